// After tsup (`npm run build`): writes the ES module entries of the package, dist/<entry>.js and
// dist/<entry>.d.ts, for each CommonJS entry the build made. Each .js re-exports the CommonJS build's
// exports by name, so one copy of the code serves `import` and `require` (half the package, and one
// module state: a client made through `require` works with an interceptor from `import`). Each .d.ts
// re-exports its .d.cts, except where the entry's types import an optional peer (axios, undici): there
// it is a copy of the .d.cts, whose imports of the peer then resolve as an ES module's, so that a
// user's `import axios from 'axios'` has the same types as the entry's.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const dist = resolve(import.meta.dirname, '..', 'dist');
const require = createRequire(import.meta.url);
const manifest = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8'));
const entries = Object.entries(manifest.exports)
  .filter(([, target]) => typeof target === 'object')
  .map(([, target]) => target.import.default.replace(/^\.\/dist\//, '').replace(/\.js$/, ''));

for (const name of entries) {
  const names = Object.keys(require(join(dist, `${name}.cjs`))).filter((n) => n !== 'default' && n !== '__esModule');
  const body = names.length === 0 ? 'export {};' : `export const { ${names.join(', ')} } = cjs;`;
  writeFileSync(
    join(dist, `${name}.js`),
    `// The ES module entry: the exports of the CommonJS build (one copy of the code for import and require).\nimport cjs from './${name}.cjs';\n${body}\n`,
  );
  const types = readFileSync(join(dist, `${name}.d.cts`), 'utf8');
  const importsPeer = Object.keys(manifest.peerDependencies ?? {}).some((peer) => types.includes(`from '${peer}'`));
  writeFileSync(join(dist, `${name}.d.ts`), importsPeer ? types : `export * from './${name}.cjs';\n`);
}
console.log(`ES module entries: ${entries.join(', ')}`);
