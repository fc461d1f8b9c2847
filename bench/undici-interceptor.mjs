// `node bench/undici-interceptor.mjs` (after `npm run build`): undici.request through the
// m2m-token/undici interceptor side by side with the same requests carrying a fixed Authorization
// header, at concurrency 50 against a loopback resource server in another process. Rounds rotate
// the subjects; the report is the median requests/s of each and their ratio (target ≥ 0.95×).
//
//   node bench/undici-interceptor.mjs [--rounds=10] [--ms=500]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CONCURRENCY = 50;

if (process.argv[2] === '--server') {
  // The token endpoint and the resource server, in a process of their own.
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
} else {
  const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const rounds = arg('rounds', 10);
  const ms = arg('ms', 500);
  const root = resolve(import.meta.dirname, '..');
  const { ClientCredentialsClient } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const { authorize } = await import(pathToFileURL(join(root, 'dist', 'undici.js')).href);
  const { Agent, request } = await import('undici');

  const child = fork(import.meta.filename, ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = await once(child, 'message');
  const origin = `http://127.0.0.1:${port}`;
  const client = new ClientCredentialsClient({
    tokenEndpoint: `${origin}/token`,
    clientId: 'bench',
    clientSecret: 'bench-secret',
    allowInsecureHttp: true,
  });
  const agent = () => new Agent({ connections: CONCURRENCY });
  const fixed = { authorization: 'Bearer bench-token' };
  // The middle subject isolates what Dispatcher.compose() itself costs (undici wraps every handler).
  const subjects = {
    'fixed header': { dispatcher: agent(), headers: fixed },
    'fixed header, composed (no-op interceptor)': {
      dispatcher: agent().compose((dispatch) => (opts, handler) => dispatch(opts, handler)),
      headers: fixed,
    },
    'm2m-token/undici': { dispatcher: agent().compose(authorize(client, { origins: [origin] })), headers: {} },
  };

  /** Requests completed in `ms` by `CONCURRENCY` loops, each loop bounded by the deadline. */
  const measure = async ({ dispatcher, headers }) => {
    const deadline = performance.now() + ms;
    let done = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const res = await request(`${origin}/resource`, { dispatcher, headers });
          await res.body.dump();
          if (res.statusCode === 200) done++;
          else failed++;
        }
      }),
    );
    if (failed > 0) throw new Error(`${failed} requests failed`);
    return (done / ms) * 1000;
  };

  const names = Object.keys(subjects);
  for (const name of names) await measure(subjects[name]); // warm-up: connections, JIT, the first token
  const rps = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of names.map((_, i) => names[(i + r) % names.length])) rps[name].push(await measure(subjects[name]));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const ratio = (name, base) => median(rps[name].map((x, i) => x / rps[base][i])).toFixed(2);
  console.log(`| subject | requests/s (median of ${rounds} × ${ms} ms, concurrency ${CONCURRENCY}) | vs fixed header | vs composed |`);
  console.log('| --- | ---: | ---: | ---: |');
  for (const name of names) {
    console.log(`| ${name} | ${Math.round(median(rps[name]))} | ${ratio(name, names[0])}× | ${ratio(name, names[1])}× |`);
  }
  console.log('target: m2m-token/undici ≥ 0.95× of the fixed header');
  await client.close();
  await Promise.all(Object.values(subjects).map((s) => s.dispatcher.close()));
  child.disconnect();
}
