// `npm run build`, after tsup (the type declarations): the JavaScript of the package, CommonJS, built
// with esbuild. `scripts/esm-entries.mjs` then writes the ES module entries that re-export it.
//
//   dist/core.cjs    the library: every module src/index.ts reaches, in one file
//   dist/index.cjs   the `m2m-token` entry: the public part of core.cjs
//   dist/<entry>.cjs the other entries and the command (cli.cjs): their own modules, and the library's
//                    from core.cjs, so that the code they share is loaded once (one TokenError, one
//                    registry of clients)
//   dist/zod.cjs     the zod functions the library calls, loaded with the first schema (see `lazyZod`)
//
// One file for the library is ~2 ms of `import('m2m-token')` less than the shared chunks of a split
// build (seven files), and index.cjs stays a few lines for Node.js's CommonJS lexer, which an
// `import` runs over the file it loads (docs/architecture.md, "The build").
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

/** The entries other than `m2m-token` itself, and the command. */
const entries = {
  redis: 'src/redis.ts',
  testing: 'src/testing.ts',
  undici: 'src/undici.ts',
  axios: 'src/axios.ts',
  cli: 'src/cli.ts',
};

/**
 * The runtime dependencies of the source (the design card's `zod/mini` and `p-retry`, and what p-retry
 * imports) are bundled into the build, tree-shaken to what m2m-token calls: the published package has
 * no `dependencies`, so installing it installs nothing else, and Node.js loads a few files instead of
 * zod's hundred modules. The optional peers stay external: they are imported only when a feature needs
 * them, from the user's own installation.
 */
const bundled = ['zod', 'p-retry', 'is-network-error'];
const require = createRequire(import.meta.url);
const peers = ['jose', 'undici', 'ioredis', 'axios'];

type Plugin = esbuild.Plugin;

/**
 * Minifies the bundled packages' modules as they are loaded, before tree-shaking: their code is a
 * quarter smaller in the package (zod's 49 kB, 36 kB), and nobody debugs zod's internals from a stack
 * trace. m2m-token's own code is not minified: a stack trace points at readable JavaScript with the
 * source's names.
 */
const minifyBundled: Plugin = {
  name: 'minify-bundled',
  setup(build) {
    const filter = new RegExp(`[\\\\/]node_modules[\\\\/](${bundled.join('|')})[\\\\/].*\\.js$`);
    build.onLoad({ filter }, async (args) => {
      const { code } = await build.esbuild.transform(await readFile(args.path, 'utf8'), {
        // Not minifyWhitespace: it drops the `@__NO_SIDE_EFFECTS__` annotations tree-shaking needs (zod
        // then bundles twice as much). The bundle is printed with its line breaks either way.
        minifyIdentifiers: true,
        minifySyntax: true,
        format: 'esm',
        target: 'node20',
        legalComments: 'inline',
      });
      return { contents: code, loader: 'js' };
    });
  },
};

/**
 * Drops the comments of m2m-token's own modules from the JavaScript build (esbuild keeps those on class
 * members, object properties and some statements): the TSDoc ships in the type declarations, which an
 * editor shows, and the rest is in the source repository; in the code they added 18 kB to the package.
 * They are found by TypeScript's parser, not a pattern, so no string or regular expression that looks
 * like a comment is touched. Each becomes a space, so no two tokens are joined, or a line break when it
 * spans lines: a line break there can end a statement (`return /* … *\/ value`).
 */
const stripComments: Plugin = {
  name: 'strip-comments',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(src)) return undefined;
      const text = await readFile(args.path, 'utf8');
      const file = ts.createSourceFile(args.path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
      const comments = new Map<number, number>();
      const visit = (node: ts.Node): void => {
        for (const range of [
          ...(ts.getLeadingCommentRanges(text, node.pos) ?? []),
          ...(ts.getTrailingCommentRanges(text, node.end) ?? []),
        ]) {
          comments.set(range.pos, range.end);
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
      let out = '';
      let from = 0;
      for (const [pos, end] of [...comments].sort((x, y) => x[0] - y[0])) {
        out += `${text.slice(from, pos)}${text.slice(pos, end).includes('\n') ? '\n' : ' '}`;
        from = end;
      }
      return { contents: out + text.slice(from), loader: 'ts' };
    });
  },
};

/**
 * The zod functions m2m-token's modules call (`z.object`, …), found by TypeScript's parser in every
 * module of `src/` that imports `zod/mini`. Only `import * as z` used as `z.member` is understood: any
 * other use of the namespace fails the build, since the bundle would then need all of zod.
 */
function zodMembers(): string[] {
  const members = new Set<string>();
  for (const name of readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    const path = join(src, name);
    const text = readFileSync(path, 'utf8');
    if (!text.includes("'zod/mini'")) continue;
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const namespaces = new Set<string>();
    for (const statement of file.statements) {
      if (!ts.isImportDeclaration(statement) || (statement.moduleSpecifier as ts.StringLiteral).text !== 'zod/mini') continue;
      const bindings = statement.importClause?.namedBindings;
      if (bindings === undefined || !ts.isNamespaceImport(bindings)) throw new Error(`${name}: import zod/mini as \`import * as z\``);
      namespaces.add(bindings.name.text);
    }
    const visit = (node: ts.Node): void => {
      // `z.infer<…>` and other types are erased: only values count.
      if (ts.isIdentifier(node) && namespaces.has(node.text) && !ts.isNamespaceImport(node.parent) && !ts.isQualifiedName(node.parent)) {
        if (!ts.isPropertyAccessExpression(node.parent) || node.parent.expression !== node) {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart());
          throw new Error(`${name}:${line + 1}: use zod/mini only as \`${node.text}.member\``);
        }
        members.add(node.parent.name.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  // Each becomes a forwarding function (`lazyZod`): a member that is not a function cannot be one.
  const zod = require('zod/mini') as Record<string, unknown>;
  const notFunctions = [...members].filter((m) => typeof zod[m] !== 'function');
  if (notFunctions.length > 0) throw new Error(`zod/mini members that are not functions: ${notFunctions.join(', ')}`);
  return [...members].sort();
}

/**
 * zod's code loads the first time a schema is built, not at import (about 1.3 ms of the import): in the
 * build, `zod/mini` is a module of forwarding functions that `require()` dist/zod.cjs on their first
 * call. The schemas are built when first used, the token response's before the first token request's
 * clock starts (`buildTokenSchemas`), so the load never stands between a response and its expiry check;
 * and it is synchronous, so nothing waits on an ordering. Bundlers of m2m-token follow the `require`
 * like any other.
 */
function lazyZod(members: string[]): Plugin {
  return {
    name: 'lazy-zod',
    setup(build) {
      build.onResolve({ filter: /^zod\/mini$/ }, (args) =>
        args.importer.startsWith(src) ? { path: 'zod/mini', namespace: 'lazy-zod' } : undefined,
      );
      build.onResolve({ filter: /^\.\/zod\.cjs$/, namespace: 'lazy-zod' }, () => ({ path: './zod.cjs', external: true }));
      build.onLoad({ filter: /.*/, namespace: 'lazy-zod' }, () => ({
        contents: [
          'let zod;',
          'const load = () => (zod ??= require("./zod.cjs"));',
          ...members.map((m) => `export const ${m} = (...args) => load().${m}(...args);`),
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}

/**
 * In the other entries, an import of one of the library's modules becomes that module from core.cjs
 * (`require("./core.cjs").modules["client.ts"]`), and its name is added to `used`: core.cjs then
 * exports those modules.
 */
function fromCore(library: Set<string>, used: Set<string>): Plugin {
  return {
    name: 'from-core',
    setup(build) {
      build.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === 'from-core' || !args.importer.startsWith(src)) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: 'from-core',
        });
        if (resolved.errors.length > 0 || !library.has(resolved.path)) return undefined;
        const name = relative(src, resolved.path).split('\\').join('/');
        used.add(name);
        return { path: name, namespace: 'from-core' };
      });
      build.onResolve({ filter: /^\.\/core\.cjs$/, namespace: 'from-core' }, () => ({ path: './core.cjs', external: true }));
      build.onLoad({ filter: /.*/, namespace: 'from-core' }, (args) => ({
        // A module core.cjs does not hold is a build error: it fails at load, not as an empty object.
        contents: `const m = require("./core.cjs").modules[${JSON.stringify(args.path)}];\nif (m === undefined) throw new Error(${JSON.stringify(`m2m-token: dist/core.cjs lacks ${args.path}`)});\nmodule.exports = m;`,
        loader: 'js',
      }));
    },
  };
}

/** dist/THIRD-PARTY-LICENSES.md: the name, version and licence text of each bundled package (MIT asks for it). */
function writeThirdPartyLicenses(): void {
  const sections = bundled.map((name) => {
    let dir = dirname(require.resolve(name === 'zod' ? 'zod/mini' : name));
    while (!readdirSync(dir).includes('package.json') || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
      if (dirname(dir) === dir) throw new Error(`package.json of ${name} not found`);
      dir = dirname(dir);
    }
    const { version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^licen[cs]e(\.md|\.txt)?$/i.test(f));
    if (file === undefined) throw new Error(`no licence file in ${name}`);
    return `## ${name}@${version} (${license})\n\n${readFileSync(join(dir, file), 'utf8').trim()}\n`;
  });
  writeFileSync(
    join(dist, 'THIRD-PARTY-LICENSES.md'),
    `# Third-party licences\n\nm2m-token's build bundles the parts it uses of these packages:\n\n${sections.join('\n')}`,
  );
}

const members = zodMembers();
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: peers,
  // Licence comments of bundled code stay where they are; the licence texts go to
  // dist/THIRD-PARTY-LICENSES.md.
  legalComments: 'inline',
  logLevel: 'warning',
} satisfies esbuild.BuildOptions;

// The library's modules: what src/index.ts reaches.
const { metafile } = await esbuild.build({
  ...common,
  entryPoints: ['src/index.ts'],
  write: false,
  metafile: true,
  outfile: join(dist, 'core.cjs'),
  plugins: [lazyZod(members)],
});
const library = new Set(
  Object.keys(metafile.inputs)
    .filter((p) => p.startsWith('src/'))
    .map((p) => join(root, p)),
);

const used = new Set<string>();
await esbuild.build({
  ...common,
  entryPoints: entries,
  outdir: dist,
  outExtension: { '.js': '.cjs' },
  plugins: [minifyBundled, stripComments, lazyZod(members), fromCore(library, used)],
});
chmodSync(join(dist, 'cli.cjs'), 0o755);

const shared = [...used].sort();
await esbuild.build({
  ...common,
  stdin: {
    contents: [
      // ES modules are strict; the CommonJS they become says so (esbuild writes this directive for the
      // entries, from tsconfig.json's `strict`).
      "'use strict';",
      "export * from './index.js';",
      ...shared.map((name, i) => `import * as m${i} from './${name.replace(/\.ts$/, '.js')}';`),
      `export const modules = { ${shared.map((name, i) => `${JSON.stringify(name)}: m${i}`).join(', ')} };`,
    ].join('\n'),
    resolveDir: src,
    sourcefile: 'core.ts',
    loader: 'ts',
  },
  outfile: join(dist, 'core.cjs'),
  plugins: [minifyBundled, stripComments, lazyZod(members)],
});

writeFileSync(
  join(dist, 'index.cjs'),
  `'use strict';
// The public part of the library (core.cjs also holds, as \`modules\`, what the other entries share).
// Not \`module.exports = require(…)\`: Node.js would then also lex core.cjs for an \`import\`.
const { modules, ...library } = require('./core.cjs');
module.exports = library;
`,
);

await esbuild.build({
  ...common,
  stdin: { contents: `'use strict';\nexport { ${members.join(', ')} } from 'zod/mini';`, resolveDir: root },
  outfile: join(dist, 'zod.cjs'),
  // Minified as a whole once tree-shaken (`minifyBundled` cannot drop whitespace before): 10 kB less.
  minify: true,
  plugins: [minifyBundled],
});

writeThirdPartyLicenses();
