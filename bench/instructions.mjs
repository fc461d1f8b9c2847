// Instructions per authorized request, counted by valgrind (repeatable on a loaded machine, unlike
// requests/s). Each subject runs twice under callgrind, with `small` and with `large` requests after the
// same warm-up; the difference over `large - small` requests is the cost of one request in the client
// process (undici or fetch included, the server not: it runs in an untraced process of its own).
//
//   node bench/instructions.mjs [--subjects=a,b] [--small=1000] [--large=4000]   (after npm run build)
//
// `node bench/instructions.mjs --run <subject> <requests>` is one measured process (what valgrind runs).
import { execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const CONCURRENCY = Number(process.env.CALLGRIND_CONCURRENCY ?? 1);
/**
 * V8 without background threads and with a garbage collection schedule driven by allocation alone, a
 * full collection after the warm-up and after the measured requests: the counts then depend on the
 * work done, not on how long valgrind took to do it.
 */
const NODE_FLAGS = (process.env.CALLGRIND_NODE_FLAGS ?? '--single-threaded --predictable-gc-schedule --expose-gc')
  .split(' ')
  .filter(Boolean);
const WARM_UP = 3000;
const SUBJECTS = ['undici: fixed header', 'undici: composed no-op', 'undici: m2m-token/undici', 'bare fetch', 'client.fetch'];

if (process.argv[2] === '--server') {
  const server = createServer((req, res) => {
    if (req.url === '/token') {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'bench-token', token_type: 'Bearer', expires_in: 3600 }));
      return;
    }
    res.statusCode = req.headers.authorization === 'Bearer bench-token' ? 200 : 401;
    res.end('ok');
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
} else if (process.argv[2] === '--run') {
  const [, , , subject, count] = process.argv;
  const root = resolve(import.meta.dirname, '..');
  const { ClientCredentialsClient } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const { authorize } = await import(pathToFileURL(join(root, 'dist', 'undici.js')).href);
  const { Agent, request } = await import('undici');
  const child = fork(import.meta.filename, ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = await once(child, 'message');
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/resource`;
  const client = new ClientCredentialsClient({
    tokenEndpoint: `${origin}/token`,
    clientId: 'bench',
    clientSecret: 'bench-secret',
    allowInsecureHttp: true,
  });
  const fixed = { authorization: 'Bearer bench-token' };
  const agent = new Agent({ connections: CONCURRENCY });
  const viaUndici = (dispatcher, headers) => async () => {
    const res = await request(url, { dispatcher, headers });
    await res.body.dump();
    return res.statusCode;
  };
  const viaFetch = (f, init) => async () => {
    const res = await f(url, init);
    await res.arrayBuffer();
    return res.status;
  };
  const one = {
    'undici: fixed header': viaUndici(agent, fixed),
    'undici: composed no-op': viaUndici(
      agent.compose((dispatch) => (opts, handler) => dispatch(opts, handler)),
      fixed,
    ),
    'undici: m2m-token/undici': viaUndici(agent.compose(authorize(client, { origins: [origin] })), {}),
    'bare fetch': viaFetch(fetch, { headers: fixed }),
    'client.fetch': viaFetch(client.fetch, undefined),
  }[subject];
  if (one === undefined) throw new Error(`unknown subject ${subject}`);
  const run = async (n) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) if ((await one()) !== 200) throw new Error('request refused');
      }),
    );
  };
  await run(WARM_UP);
  globalThis.gc?.();
  await run(Number(count));
  globalThis.gc?.();
  await client.close();
  await agent.close();
  child.disconnect();
} else {
  const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const small = Number(arg('small', 1000));
  const large = Number(arg('large', 4000));
  const subjects = arg('subjects', SUBJECTS.join(',')).split(',');
  const dir = mkdtempSync(join(tmpdir(), 'm2m-token-callgrind-'));
  const instructions = async (subject, n) => {
    const out = join(dir, `cg.${n}.out`);
    const { stderr } = await promisify(execFile)(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${out}`,
        process.execPath,
        ...NODE_FLAGS,
        import.meta.filename,
        '--run',
        subject,
        String(n),
      ],
      { maxBuffer: 1 << 26 },
    );
    const match = /Collected : (\d+)/.exec(stderr);
    if (!match) throw new Error(`no count for ${subject}: ${stderr.slice(-500)}`);
    return Number(match[1]);
  };
  const rows = [];
  try {
    for (const subject of subjects) {
      const a = await instructions(subject, small);
      const b = await instructions(subject, large);
      rows.push([subject, (b - a) / (large - small)]);
      console.error(`${subject}: ${Math.round((b - a) / (large - small))} instructions/request`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = Object.fromEntries(rows);
  console.log(`| subject | instructions per request (callgrind, (${large} − ${small}) requests) | vs fixed header | vs bare fetch |`);
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, n] of rows) {
    const vs = (b) => (base[b] === undefined || !name.startsWith(b.split(':')[0]) ? '' : `${(n / base[b]).toFixed(3)}×`);
    console.log(`| ${name} | ${Math.round(n)} | ${vs('undici: fixed header')} | ${vs('bare fetch')} |`);
  }
}
