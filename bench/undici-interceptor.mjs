// Scenario (h) of `npm run bench` (bench/run.mjs runs it with --json and puts it in the report), or on
// its own after `npm run build`: undici.request through the m2m-token/undici interceptor side by side
// with the same requests carrying a fixed Authorization header, plain and through a no-op compose()
// (what composing costs by itself), at concurrency 50 against a loopback resource server in another
// process. Rounds rotate the subjects; the result is the median requests/s of each, the median of the
// per-round ratios, and the client process's CPU time per request (target ≥ 0.95× the fixed header).
//
//   node bench/undici-interceptor.mjs [--rounds=15] [--ms=350] [--concurrency=50] [--m2m=<package dir>] [--json]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (process.argv[2] === '--server') {
  // The token endpoint and the resource server, in a process of their own (bench/instructions.mjs uses it too).
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
  const rounds = arg('rounds', 15);
  const ms = arg('ms', 350);
  const CONCURRENCY = arg('concurrency', 50);
  const json = process.argv.includes('--json');
  // The package measured: the repository's build, or (from run.mjs) the packed copy installed in a scratch project.
  const pkg = process.argv.find((a) => a.startsWith('--m2m='))?.slice(6) ?? resolve(import.meta.dirname, '..');
  const { ClientCredentialsClient } = await import(pathToFileURL(join(pkg, 'dist', 'index.js')).href);
  const { authorize } = await import(pathToFileURL(join(pkg, 'dist', 'undici.js')).href);
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
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + ms;
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
    const cpu = process.cpuUsage(cpu0);
    return { rps: (done / (performance.now() - t0)) * 1000, cpuUsPerRequest: (cpu.user + cpu.system) / done };
  };

  const names = Object.keys(subjects);
  for (const name of names) await measure(subjects[name]); // warm-up: connections, JIT, the first token
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of names.map((_, i) => names[(i + r) % names.length])) perRound[name].push(await measure(subjects[name]));
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs });
  const ratios = (name, base, key) => summary(perRound[name].map((x, i) => x[key] / perRound[base][i][key]));
  const [fixedName, composedName] = names;
  const result = Object.fromEntries(
    names.map((n) => [
      n,
      {
        rps: summary(perRound[n].map((x) => x.rps)),
        vsFixed: ratios(n, fixedName, 'rps'),
        vsComposed: ratios(n, composedName, 'rps'),
        cpuUsPerRequest: summary(perRound[n].map((x) => x.cpuUsPerRequest)),
        cpuVsFixed: ratios(n, fixedName, 'cpuUsPerRequest'),
      },
    ]),
  );
  if (json) {
    console.log(JSON.stringify({ config: { rounds, ms, concurrency: CONCURRENCY }, bySubject: result }));
  } else {
    const f = (x) => x.toFixed(2);
    console.log(
      `| subject | requests/s (median of ${rounds} × ${ms} ms, concurrency ${CONCURRENCY}) | × fixed header | × composed | client CPU µs/request | CPU × fixed |`,
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const n of names) {
      const x = result[n];
      console.log(
        `| ${n} | ${Math.round(x.rps.median)} | ${f(x.vsFixed.median)}× | ${f(x.vsComposed.median)}× | ${f(x.cpuUsPerRequest.median)} | ${f(x.cpuVsFixed.median)}× |`,
      );
    }
    console.log('target: m2m-token/undici ≥ 0.95× of the fixed header');
  }
  await client.close();
  await Promise.all(Object.values(subjects).map((s) => s.dispatcher.close()));
  child.disconnect();
}
