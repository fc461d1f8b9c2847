// Instructions per authorized request, counted by valgrind (repeatable on a loaded machine, unlike
// requests/s). Each subject runs in its own process under callgrind with instrumentation off while it
// warms up (JIT, connections, the first token); the process then turns it on itself
// (`callgrind_control -i on <pid>`), sends `--requests` requests one at a time, and turns it off. The
// count covers the client process (undici or fetch included, and about 1.3 million instructions for
// the two `callgrind_control` calls); the server runs in an untraced process of its own.
//
//   node bench/instructions.mjs [--subjects=a,b] [--requests=2000] [--warm-up=20000] [--repeat=2]   (after npm run build)
//
// `node bench/instructions.mjs --run <subject> <warm-up> <requests>` is one measured process.
import { execFile, execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const CONCURRENCY = Number(process.env.CALLGRIND_CONCURRENCY ?? 1);
/**
 * V8 without background threads (its compiler and collector work on the measured thread, counted) and
 * with a garbage collection schedule driven by allocation alone: the counts then depend on the work
 * done, not on how long valgrind took to do it (two processes of a subject agree within about 1%).
 */
const NODE_FLAGS = (process.env.CALLGRIND_NODE_FLAGS ?? '--single-threaded --predictable-gc-schedule').split(' ').filter(Boolean);
const SUBJECTS = ['undici: fixed header', 'undici: composed no-op', 'undici: m2m-token/undici', 'bare fetch', 'client.fetch'];

if (process.argv[2] === '--run') {
  const [, , , subject, warmUp, count] = process.argv;
  const root = resolve(import.meta.dirname, '..');
  const { ClientCredentialsClient } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const { authorize } = await import(pathToFileURL(join(root, 'dist', 'undici.js')).href);
  const { Agent, request } = await import('undici');
  const child = fork(join(import.meta.dirname, 'undici-interceptor.mjs'), ['--server'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
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
  const legacyPassThrough = (h) => ({
    onConnect: (abort, context) => h.onConnect(abort, context),
    onHeaders: (status, raw, resume, text) => h.onHeaders(status, raw, resume, text),
    onData: (chunk) => h.onData(chunk),
    onComplete: (trailers) => h.onComplete(trailers),
    onError: (error) => h.onError(error),
  });
  const one = {
    'undici: fixed header': viaUndici(agent, fixed),
    // Not in the default list: the same header as a flat array, which is how the interceptor hands headers on.
    'undici: fixed header as a flat array': viaUndici(agent, ['authorization', fixed.authorization]),
    'undici: composed no-op': viaUndici(
      agent.compose((dispatch) => (opts, handler) => dispatch(opts, handler)),
      fixed,
    ),
    // Not in the default list: a composed interceptor that hands undici's first handler API through
    // (what m2m-token/undici does for request's handler), to tell its cost from the token's.
    'undici: composed legacy pass-through': viaUndici(
      agent.compose((dispatch) => (opts, handler) => dispatch(opts, legacyPassThrough(handler))),
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
  /** Instrumentation on or off: callgrind_control reaches valgrind while this process waits for it. */
  // Under valgrind (set by the orchestrator); without it, `--run` is a plain load for a profiler.
  const instrument = (on) =>
    process.env.M2M_CALLGRIND === '1' &&
    execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], { stdio: 'ignore' });
  await run(Number(warmUp));
  instrument(true);
  await run(Number(count));
  instrument(false);
  await client.close();
  await agent.close();
  child.disconnect();
} else {
  const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const requests = Number(arg('requests', 2000));
  const warmUp = Number(arg('warm-up', 20000));
  const repeat = Number(arg('repeat', 2));
  const subjects = arg('subjects', SUBJECTS.join(',')).split(',');
  const instructions = async (subject) => {
    const { stderr } = await promisify(execFile)(
      'valgrind',
      [
        '--tool=callgrind',
        '--instr-atstart=no',
        '--callgrind-out-file=/dev/null',
        process.execPath,
        ...NODE_FLAGS,
        import.meta.filename,
        '--run',
        subject,
        String(warmUp),
        String(requests),
      ],
      { maxBuffer: 1 << 26, timeout: 30 * 60_000, env: { ...process.env, M2M_CALLGRIND: '1' } },
    );
    const match = /Collected : (\d+)/.exec(stderr);
    if (!match) throw new Error(`no count for ${subject}: ${stderr.slice(-500)}`);
    return Number(match[1]) / requests;
  };
  const rows = [];
  for (const subject of subjects) {
    const counts = [];
    for (let i = 0; i < repeat; i++) counts.push(await instructions(subject));
    rows.push([subject, counts]);
    console.error(`${subject}: ${counts.map(Math.round).join(', ')} instructions/request`);
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const base = Object.fromEntries(rows.map(([n, c]) => [n, median(c)]));
  /** Each subject against the floor of its kind: undici's against the fixed header, fetch's against bare fetch. */
  const floorOf = (name) => (name.startsWith('undici:') ? 'undici: fixed header' : 'bare fetch');
  console.log(
    `| subject | instructions per request (callgrind; ${requests} requests after ${warmUp}; ${repeat} processes) | median | × its floor |`,
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, counts] of rows) {
    const n = median(counts);
    const floor = base[floorOf(name)];
    console.log(
      `| ${name} | ${counts.map(Math.round).join(', ')} | ${Math.round(n)} | ${floor === undefined ? '–' : `${(n / floor).toFixed(3)}×`} |`,
    );
  }
}
