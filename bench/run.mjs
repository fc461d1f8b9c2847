// `npm run bench`: installs the bench's own dependencies if missing, builds m2m-token, starts the
// loopback servers in one process and one client process per subject, runs scenarios (a)–(h) with the
// subjects alternating round by round, and writes bench/results/latest.{json,md},
// docs/benchmarks.md and docs/rotation-latency.svg.
//
//   node bench/run.mjs [--only=a,b,c,d,e,f,g,h] [--no-build] [--no-docs]
import { execFile, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem, arch } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SCENARIOS, SUBJECTS } from './subjects.mjs';
import { classicZodVariant, closure, distSizes, importTime, installPacked, moduleGraph } from './footprint.mjs';
import { renderMarkdown, renderDocs, renderRotationSvg, evaluateTargets } from './report.mjs';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const benchDir = join(root, 'bench');
const args = process.argv.slice(2);
const only = new Set((args.find((a) => a.startsWith('--only='))?.slice(7) ?? SCENARIOS.join(',')).split(','));
const started = performance.now();

/** Every number the run uses, recorded in the result file. */
const CONFIG = {
  a: { rounds: 5, maxOps: 1_000_000, maxMs: 250 },
  b: { rounds: 3, callers: 1000 },
  c: { callers: 1200, interval: 5, lifetime: 2, delay: 200, drainWait: 400 },
  d: { rounds: 10, concurrency: 50, ms: 350 },
  e: { rounds: 3, failures: [503, 503] },
  f: { rounds: 15 },
  g: { rounds: 15 },
  h: { rounds: 15, concurrency: 50, ms: 350 },
};
const CLIENT = { clientId: 'bench-client', clientSecret: 'bench-secret', scope: 'api://bench/.default' };

const log = (...a) => console.log(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs });
/** The subjects in round `r`: rotated by one each round, so none is always first or last. */
const rotate = (list, r) => list.map((_, i) => list[(i + r) % list.length]);
const runs = (name, scenario) => !SUBJECTS.find((s) => s.name === name).na[scenario];

// ---------------------------------------------------------------------------------------------------
// Child processes: RPC over IPC, every call bounded in time.

function rpc(child, label) {
  let next = 0;
  const waiting = new Map();
  child.on('message', (m) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    clearTimeout(w.timer);
    if (m.ok === false) w.reject(new Error(`${label}: ${m.error}`));
    else w.resolve(m.result ?? m);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`${label} exited with ${code}`));
    waiting.clear();
  });
  return (type, payload = {}, timeout = 120_000) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`${label}: ${type} took longer than ${timeout} ms`));
      }, timeout);
      waiting.set(id, { resolve, reject, timer });
      child.send({ id, type, ...payload });
    });
}

// ---------------------------------------------------------------------------------------------------
// Preparation: dependencies, build, certificate.

async function sh(cmd, argv, cwd, what) {
  try {
    return await exec(cmd, argv, { cwd, maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } });
  } catch (error) {
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
    throw new Error(`${what} failed: ${error.message.split('\n')[0]}`);
  }
}

async function ensureDependencies() {
  const pkg = JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8'));
  const missing = Object.keys(pkg.devDependencies).filter((name) => !existsSync(join(benchDir, 'node_modules', name, 'package.json')));
  if (missing.length === 0) return;
  log(`installing the bench's dependencies (npm ci in bench/; missing: ${missing.join(', ')})`);
  await sh('npm', ['ci', '--no-audit', '--no-fund'], benchDir, 'npm ci in bench/');
}

async function certificate() {
  const { default: selfsigned } = await import(pathToFileURL(join(benchDir, 'node_modules', 'selfsigned', 'index.js')).href);
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  // Only the certificate is written (for NODE_EXTRA_CA_CERTS), to a temporary directory removed at the
  // end; the private key goes to the server process over IPC and is never stored.
  const dir = mkdtempSync(join(tmpdir(), 'm2m-token-bench-ca-'));
  const certPath = join(dir, 'ca.pem');
  writeFileSync(certPath, pems.cert);
  return { dir, certPath, key: pems.private, cert: pems.cert };
}

async function versions() {
  const read = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const peers = {};
  for (const s of SUBJECTS) for (const p of s.packages) if (p !== 'm2m-token') peers[p] = read(join(benchDir, 'node_modules', p));
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = (await exec('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim();
    dirty = (await exec('git', ['status', '--porcelain', '--', 'src', 'package.json'], { cwd: root })).stdout.trim() !== '';
  } catch {}
  return { m2mToken: { version: read(root), commit, dirty }, peers };
}

// ---------------------------------------------------------------------------------------------------
// Scenarios.

async function scenarioA(workers) {
  const { rounds, maxOps, maxMs } = CONFIG.a;
  const names = Object.keys(workers).filter((n) => runs(n, 'a'));
  log(`(a) cached getToken(): ${names.length} subjects × ${rounds} rounds`);
  await server('config', { lifetime: 3600 });
  for (const n of names) await workers[n]('a-setup');
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of rotate(names, r)) {
      const { ops, ns, cpuNs } = await workers[n]('a-round', { maxOps, maxMs });
      perRound[n].push({ ops, nsPerOp: ns / ops, cpuNsPerOp: cpuNs / ops });
    }
  }
  const result = {};
  for (const n of names) {
    const ns = perRound[n].map((x) => x.nsPerOp);
    const ratios = perRound[n].map((x, r) => x.nsPerOp / perRound.baseline[r].nsPerOp);
    const cpu = perRound[n].map((x) => x.cpuNsPerOp);
    const cpuRatios = perRound[n].map((x, r) => x.cpuNsPerOp / perRound.baseline[r].cpuNsPerOp);
    result[n] = {
      nsPerOp: summary(ns),
      ratio: summary(ratios),
      cpuNsPerOp: summary(cpu),
      cpuRatio: summary(cpuRatios),
      opsPerRound: summary(perRound[n].map((x) => x.ops)),
    };
  }
  return result;
}

async function scenarioB(workers) {
  const { rounds, callers } = CONFIG.b;
  const names = Object.keys(workers).filter((n) => runs(n, 'b'));
  log(`(b) ${callers} concurrent cold callers: ${names.length} subjects × ${rounds} rounds`);
  const trial = async (n) => {
    await server('config', { lifetime: 3600 });
    const r = await workers[n]('b-round', { callers });
    const { stats } = await server('stats');
    return { ...r, requests: stats.token };
  };
  for (const n of names) await workers[n]('b-warm'); // first use of each library's network stack, not reported
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of rotate(names, r)) perRound[n].push(await trial(n));
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        ms: summary(perRound[n].map((x) => x.ms)),
        requests: summary(perRound[n].map((x) => x.requests)),
        failed: summary(perRound[n].map((x) => x.failed)),
        error: perRound[n].find((x) => x.error)?.error,
      },
    ]),
  );
}

async function scenarioC(workers) {
  const { callers, interval, lifetime, delay, drainWait } = CONFIG.c;
  const names = Object.keys(workers).filter((n) => runs(n, 'c'));
  log(`(c) rotation: ${names.length} subjects × ${((callers * interval) / 1000).toFixed(0)} s, one after the other`);
  const result = {};
  for (const n of names) {
    await server('config', { lifetime, delay });
    const { first } = await workers[n]('c-prepare');
    const run = await workers[n]('c-run', { callers, interval, first, drainWait });
    const { stats } = await server('stats');
    // Requests that arrived in the window (up to the collecting call), and which of their tokens reached a
    // caller: a request whose token nobody got was wasted.
    const inWindow = stats.requests.filter(([t]) => t >= run.windowStart && t < run.drainAt);
    const handedOut = new Set([...run.samples.map((s) => s[3]), run.drained]);
    const rotations = inWindow.filter(([, seq]) => seq !== -1 && seq !== run.first && handedOut.has(seq)).length;
    const ok = run.samples.filter((s) => s[2] !== -1);
    const latencies = ok.map((s) => s[1]).sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    result[n] = {
      calls: run.samples.length,
      failed: run.samples.length - ok.length,
      error: run.samples.find((s) => s[4])?.[4],
      p50: q(0.5),
      p99: q(0.99),
      max: latencies.at(-1),
      requests: inWindow.length,
      rotations,
      expired: ok.filter((s) => s[2] === 1).length,
      // For the chart: [start ms, latency ms] of every call, and when token requests arrived.
      series: run.samples.map((s) => [s[0], s[1], s[2], s[3]]),
      requestsAt: inWindow.map(([t]) => +(t - run.windowStart).toFixed(1)),
    };
    log(
      `    ${n}: p50 ${result[n].p50?.toFixed(3)} ms, max ${result[n].max?.toFixed(2)} ms, ${result[n].requests} requests, ${result[n].rotations} rotations, ${result[n].expired} expired`,
    );
  }
  return result;
}

async function scenarioD(workers, http) {
  const { rounds, concurrency, ms } = CONFIG.d;
  const url = `${http}/resource`;
  const names = Object.keys(workers).filter((n) => runs(n, 'd'));
  log(`(d) authorized requests/s at concurrency ${concurrency}: ${names.length} subjects × ${rounds} rounds of ${ms} ms`);
  await server('config', { lifetime: 3600 });
  for (const n of names) await workers[n]('d-setup', { url });
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of rotate(names, r)) {
      const x = await workers[n]('d-round', { url, concurrency, ms });
      perRound[n].push({ ...x, rps: (x.requests / x.ms) * 1000, cpuUsPerRequest: x.cpuUs / Math.max(1, x.requests + x.failures) });
    }
  }
  const { stats } = await server('stats');
  const result = {};
  for (const n of names) {
    const rps = perRound[n].map((x) => x.rps);
    const ratio = perRound[n].map((x, r) => x.rps / perRound['bare fetch'][r].rps);
    const failures = perRound[n].reduce((s, x) => s + x.failures, 0);
    const cpu = perRound[n].map((x) => x.cpuUsPerRequest);
    const cpuRatio = perRound[n].map((x, r) => x.cpuUsPerRequest / perRound['bare fetch'][r].cpuUsPerRequest);
    result[n] = {
      rps: summary(rps),
      ratio: summary(ratio),
      cpuUsPerRequest: summary(cpu),
      cpuRatio: summary(cpuRatio),
      failures,
      error: perRound[n].find((x) => x.error)?.error,
    };
  }
  return { bySubject: result, server: { ok: stats.resourceOk, rejected: stats.resourceRejected } };
}

async function scenarioE(workers) {
  const { rounds, failures } = CONFIG.e;
  const names = Object.keys(workers).filter((n) => runs(n, 'e'));
  log(`(e) token endpoint answers ${failures.join(', ')}, then 200: ${names.length} subjects × ${rounds} rounds`);
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of rotate(names, r)) {
      await server('config', { lifetime: 3600, failures });
      const x = await workers[n]('e-round');
      const { stats } = await server('stats');
      perRound[n].push({ ...x, requests: stats.token });
    }
  }
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        succeeded: perRound[n].filter((x) => x.ok).length,
        rounds,
        ms: summary(perRound[n].map((x) => x.ms)),
        requests: summary(perRound[n].map((x) => x.requests)),
        error: perRound[n].find((x) => x.error)?.error,
      },
    ]),
  );
}

/** (g): per round, fresh client processes; in each, the first token call, then a second token request. */
async function scenarioG(withWorkers) {
  const { rounds } = CONFIG.g;
  const names = SUBJECTS.filter((s) => !s.na.g).map((s) => s.name);
  log(`(g) first token of a process: ${names.length} subjects × ${rounds} fresh processes`);
  const perRound = Object.fromEntries(names.map((n) => [n, []]));
  await server('config', { lifetime: 3600 });
  for (let r = 0; r < rounds; r++) {
    await withWorkers('g', async (workers) => {
      for (const n of rotate(names, r)) perRound[n].push(await workers[n]('g-run'));
    });
  }
  const result = {};
  for (const n of names) {
    const xs = perRound[n];
    result[n] = {
      first: summary(xs.map((x) => x.first.ms)),
      second: summary(xs.map((x) => x.second.ms)),
      extra: summary(xs.map((x) => x.first.ms - x.second.ms)),
      firstCpu: summary(xs.map((x) => x.first.cpuMs)),
      secondCpu: summary(xs.map((x) => x.second.cpuMs)),
      extraCpu: summary(xs.map((x) => x.first.cpuMs - x.second.cpuMs)),
    };
  }
  // What each client adds to the first request beyond Node.js's own first fetch(), round by round.
  const floor = perRound['bare fetch'];
  for (const n of names) {
    if (n === 'bare fetch') continue;
    result[n].beyondFetchCpu = summary(
      perRound[n].map((x, r) => x.first.cpuMs - x.second.cpuMs - (floor[r].first.cpuMs - floor[r].second.cpuMs)),
    );
  }
  return result;
}

async function scenarioF() {
  const { rounds } = CONFIG.f;
  const { scratch, tarball } = packed;
  const targets = SUBJECTS.filter((s) => !s.na.f).map((s) => ({
    name: s.name,
    cwd: s.name === 'm2m-token' ? scratch : benchDir,
    specifiers: s.packages,
    packages: s.packages,
  }));
  // Footprints first: the classic-zod variant below adds a file to the installed m2m-token.
  const footprint = {};
  for (const t of targets) {
    const c = closure(t.packages, t.cwd);
    footprint[t.name] = { bytes: c.bytes, files: c.files, count: c.packages.length, packages: c.packages };
  }
  const variant = await classicZodVariant(scratch);
  // zod from the repository's own devDependencies: the scratch project has it only while m2m-token
  // depends on it at run time.
  const zodCwd = existsSync(join(scratch, 'node_modules', 'zod', 'package.json')) ? scratch : root;
  const extra = [
    { name: 'zod/mini (alone)', cwd: zodCwd, specifiers: ['zod/mini'] },
    { name: 'zod (alone)', cwd: zodCwd, specifiers: ['zod'] },
  ];
  if (variant) extra.unshift({ name: 'm2m-token with classic zod', cwd: scratch, specifiers: [variant] });
  const empty = { name: 'empty script', cwd: scratch, specifiers: [] };
  const all = [empty, ...targets, ...extra];
  log(`(f) cold import: ${all.length} imports × ${rounds} fresh processes each`);
  const times = Object.fromEntries(all.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) for (const t of rotate(all, r)) times[t.name].push(await importTime(t.specifiers, t.cwd));
  // In-process import time, and the whole process above the empty script of the same round.
  const imports = Object.fromEntries(all.map((t) => [t.name, summary(times[t.name].map((x) => x.ms))]));
  const aboveEmpty = Object.fromEntries(
    all.map((t) => [t.name, summary(times[t.name].map((x, r) => x.processMs - times[empty.name][r].processMs))]),
  );
  const processMs = Object.fromEntries(all.map((t) => [t.name, summary(times[t.name].map((x) => x.processMs))]));
  // The same in CPU time, which the machine's other work disturbs far less than wall time.
  const cpuAboveEmpty = Object.fromEntries(
    all.map((t) => [t.name, summary(times[t.name].map((x, r) => x.cpuMs - times[empty.name][r].cpuMs))]),
  );
  const cpuMs = Object.fromEntries(all.map((t) => [t.name, summary(times[t.name].map((x) => x.cpuMs))]));
  const modules = { 'zod/mini': await moduleGraph('zod/mini', zodCwd), zod: await moduleGraph('zod', zodCwd) };
  return { tarball, imports, aboveEmpty, processMs, cpuAboveEmpty, cpuMs, footprint, modules, dist: distSizes(scratch) };
}

/**
 * (h): undici.request through m2m-token/undici, a fixed header, and a fixed header through a no-op
 * compose(), alternating round by round in one client process (bench/undici-interceptor.mjs, with its
 * own loopback server) — the ratios compare one library's ways of sending, not libraries.
 */
async function scenarioH() {
  const { rounds, concurrency, ms } = CONFIG.h;
  log(`(h) undici.request through m2m-token/undici: 3 subjects × ${rounds} rounds of ${ms} ms at concurrency ${concurrency}`);
  const { stdout } = await sh(
    process.execPath,
    [
      join(benchDir, 'undici-interceptor.mjs'),
      '--json',
      `--rounds=${rounds}`,
      `--ms=${ms}`,
      `--concurrency=${concurrency}`,
      `--m2m=${join(packed.scratch, 'node_modules', 'm2m-token')}`,
    ],
    root,
    'scenario (h)',
  );
  const { bySubject } = JSON.parse(stdout.trim().split('\n').at(-1));
  return bySubject;
}

// ---------------------------------------------------------------------------------------------------

let server;
const children = [];
let ca;
let packed;

async function main() {
  await ensureDependencies();
  // The package is measured as users get it: built, packed, and installed from the tarball into a
  // scratch project, which also keeps the run independent of later rebuilds of dist/.
  for (let attempt = 1; ; attempt++) {
    if (!args.includes('--no-build')) {
      log('building m2m-token (npm run build)');
      await sh('npm', ['run', 'build'], root, 'npm run build');
    }
    log('packing m2m-token and installing the tarball into a scratch project');
    try {
      packed = await installPacked(root);
      break;
    } catch (error) {
      if (attempt === 3 || !/no dist\/index\.js/.test(error.message)) throw error;
      log(`${error.message}; building again`);
    }
  }
  const m2mToken = pathToFileURL(join(packed.scratch, 'node_modules', 'm2m-token', 'dist', 'index.js')).href;
  ca = await certificate();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    os: `${platform()} ${release()} ${arch()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage: { start: loadavg().map((x) => +x.toFixed(2)) },
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
    ...(await versions()),
    config: CONFIG,
  };

  const serverProcess = fork(join(benchDir, 'server.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(serverProcess);
  server = rpc(serverProcess, 'server');
  const ports = await server('start', { tls: { key: ca.key, cert: ca.cert } });
  const ctx = { http: `http://127.0.0.1:${ports.http}`, https: `https://127.0.0.1:${ports.https}`, m2mToken, ...CLIENT };
  log(`servers on ${ctx.http} and ${ctx.https} (pid ${serverProcess.pid})`);

  // Every scenario gets fresh client processes, so that nothing one scenario leaves in a process (heap,
  // JIT state, connections, cached clients) weighs on the next.
  const withWorkers = async (scenario, run) => {
    const workers = {};
    const spawned = [];
    for (const s of SUBJECTS.filter((x) => !x.na[scenario])) {
      const child = fork(join(benchDir, 'worker.mjs'), [s.name], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.certPath, NODE_ENV: 'production' },
      });
      children.push(child);
      spawned.push(child);
      workers[s.name] = rpc(child, s.name);
      await workers[s.name]('init', { ctx });
    }
    try {
      return await run(workers);
    } finally {
      await Promise.all(
        spawned.map((child) => {
          if (child.exitCode !== null || child.signalCode !== null) return undefined;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.disconnect(); // the worker exits when its channel closes
          return exited;
        }),
      );
    }
  };

  const results = { meta, subjects: SUBJECTS };
  if (only.has('a')) results.a = await withWorkers('a', scenarioA);
  if (only.has('b')) results.b = await withWorkers('b', scenarioB);
  if (only.has('c')) results.c = await withWorkers('c', scenarioC);
  if (only.has('d')) ({ bySubject: results.d, server: results.dServer } = await withWorkers('d', (w) => scenarioD(w, ctx.http)));
  if (only.has('e')) results.e = await withWorkers('e', scenarioE);
  if (only.has('f')) results.f = await scenarioF();
  if (only.has('g')) results.g = await scenarioG(withWorkers);
  if (only.has('h')) results.h = await scenarioH();
  results.meta.loadAverage.end = loadavg().map((x) => +x.toFixed(2));
  results.meta.durationS = +((performance.now() - started) / 1000).toFixed(1);
  results.targets = evaluateTargets(results);

  const out = join(benchDir, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(results, null, 1)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(join(out, 'latest.md'), markdown);
  if (!args.includes('--no-docs') && SCENARIOS.every((x) => only.has(x))) {
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'docs', 'rotation-latency.svg'), renderRotationSvg(results));
    writeFileSync(join(root, 'docs', 'benchmarks.md'), renderDocs(results));
    log('wrote docs/benchmarks.md and docs/rotation-latency.svg');
  }
  console.log(`\n${markdown}`);
  log(`wrote bench/results/latest.json and latest.md in ${results.meta.durationS} s`);
}

async function cleanup() {
  try {
    if (server && children[0]?.connected) await server('stop', {}, 5000).catch(() => {});
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
    if (packed) rmSync(packed.scratch, { recursive: true, force: true });
  }
}

main()
  .catch((error) => {
    console.error(`bench failed: ${error.stack ?? error}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
