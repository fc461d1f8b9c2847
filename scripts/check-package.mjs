// Packs the package, installs the tarball into a scratch project and uses it from ESM, CommonJS and
// TypeScript (moduleResolution node16 and bundler) against a loopback token endpoint.
// Run after `npm run build`: `npm run test:package`.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'm2m-token-package-'));
const run = (cmd, args, cwd = scratch, env = {}) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, ...env } });

let failures = 0;
const check = async (name, fn) => {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}\n${error.stdout ?? ''}${error.message}`);
  }
};

const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ access_token: 'packed-token', token_type: 'bearer', expires_in: 60 }));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${server.address().port}/token`;

try {
  const [{ filename, files }] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], root));
  const shipped = files.map((f) => f.path).sort();
  await check('ships only dist, README, LICENSE, CHANGELOG and package.json', () => {
    const stray = shipped.filter((p) => !/^(dist\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(p));
    if (stray.length) throw new Error(`unexpected files: ${stray.join(', ')}`);
    const missing = ['README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts'].filter((p) => !shipped.includes(p));
    if (missing.length) throw new Error(`missing files: ${missing.join(', ')}`);
  });

  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(scratch, filename), 'typescript@5', '@types/node@20']);

  const use = (mod) => `
    const client = new mod.ClientCredentialsClient({ tokenEndpoint: process.env.ENDPOINT, clientId: 'c', clientSecret: 's' });
    const token = await client.getToken();
    if (token.accessToken !== 'packed-token' || token.tokenType !== 'Bearer') throw new Error('wrong token');
    if (!(new mod.OAuthError({ error: 'x', status: 400 }) instanceof mod.TokenError)) throw new Error('error hierarchy');
    await client.close();
    console.log('ok');`;
  writeFileSync(join(scratch, 'esm.mjs'), `import * as mod from 'm2m-token';\n${use()}`);
  writeFileSync(join(scratch, 'cjs.cjs'), `const mod = require('m2m-token');\n(async () => {${use()}})().catch((e) => { console.error(e); process.exit(1); });`);
  // Asynchronously: the token endpoint is served by this process.
  const node = async (file) => {
    const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: scratch, env: { ...process.env, ENDPOINT: endpoint } });
    if (stdout.trim() !== 'ok') throw new Error(`${file} printed ${JSON.stringify(stdout)}`);
  };
  await check('ESM import works', () => node('esm.mjs'));
  await check('CommonJS require works', () => node('cjs.cjs'));

  writeFileSync(
    join(scratch, 'consumer.ts'),
    `import { ClientCredentialsClient, TokenError, type Token, type TokenErrorCode } from 'm2m-token';
const client = new ClientCredentialsClient({ tokenEndpoint: 'https://a.example/token', clientId: 'c', clientSecret: 's', scope: ['a'] });
export async function f(): Promise<string> {
  const t: Token = await client.getToken({ scope: 'b' });
  const r: Response = await client.fetch('https://api.example/x');
  try { await client.revoke(t); } catch (e) { if (e instanceof TokenError) { const c: TokenErrorCode = e.code; return c; } }
  return t.accessToken + r.status;
}
`,
  );
  for (const [resolution, module] of [['node16', 'node16'], ['bundler', 'esnext']]) {
    for (const type of resolution === 'node16' ? ['module', 'commonjs'] : ['module']) {
      await check(`TypeScript resolves the types (moduleResolution ${resolution}, ${type})`, () => {
        writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type }));
        run(join(scratch, 'node_modules/.bin/tsc'), ['--noEmit', '--strict', '--skipLibCheck', '--types', 'node', '--lib', 'es2022,esnext.disposable,dom', '--module', module, '--moduleResolution', resolution, 'consumer.ts']);
      });
    }
  }
} finally {
  server.close();
  if (!process.env.KEEP) rmSync(scratch, { recursive: true, force: true });
}
console.log(failures === 0 ? 'package checks passed' : `${failures} package check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
