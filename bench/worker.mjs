// One client process per subject (forked by bench/run.mjs with the subject's name as argument). It
// runs one step of one scenario per IPC message and replies with raw measurements; the orchestrator
// decides the order of subjects, configures the server and computes the statistics.
import { create, tokenByHand } from './subjects.mjs';

const name = process.argv[2];
let ctx;
let warm; // the long-lived instance of scenarios (a) and (d)
let rotating; // the instance of scenario (c)

const now = () => performance.now();
const epoch = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Expiry of a bench token (`bench.<n>.<expiresAt>`), from the token itself. */
const expiryOf = (token) => Number(String(token).split('.')[2]);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function describe(error) {
  const code = error?.code ?? error?.errorCode ?? error?.name;
  const status = error?.status ?? error?.response?.status ?? error?.output?.statusCode ?? error?.httpStatus;
  const message = String(error?.message ?? error)
    .split('\n')[0]
    .slice(0, 160);
  return [code, status && `HTTP ${status}`, message].filter(Boolean).join(': ');
}

async function closeQuietly(instance) {
  try {
    await instance?.close?.();
  } catch {}
}

/** Reads the whole body, so connections are reused and every subject does the same work. */
async function consume(response) {
  if (typeof response?.arrayBuffer === 'function') await response.arrayBuffer();
  return response.status;
}

const steps = {
  init(message) {
    ctx = message.ctx;
    return {};
  },

  // (a) cached token: ns per awaited call, in batches of 1000, until maxOps or maxMs.
  async 'a-setup'() {
    warm = await create(name, ctx);
    const first = warm.tokenOf(await warm.token());
    if (!first) throw new Error('no token');
    await steps['a-round']({ maxOps: 2e5, maxMs: 150 }); // JIT warm-up, not reported
    return {};
  },
  async 'a-round'({ maxOps, maxMs }) {
    const token = warm.token;
    const limit = BigInt(Math.round(maxMs * 1e6));
    let ops = 0;
    let elapsed = 0n;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    while (ops < maxOps) {
      for (let i = 0; i < 1000; i++) await token();
      ops += 1000;
      elapsed = process.hrtime.bigint() - t0;
      if (elapsed >= limit) break;
    }
    // CPU time of the process as well: unlike wall time, it does not count time the process spent
    // waiting for a core that other processes of the machine held.
    const cpu = process.cpuUsage(cpu0);
    return { ops, ns: Number(elapsed), cpuNs: (cpu.user + cpu.system) * 1000 };
  },

  async 'b-warm'() {
    const instance = await create(name, ctx);
    await instance.token();
    await closeQuietly(instance);
    return {};
  },

  // (b) a fresh client, `callers` calls at once: time until all settled; the server counts requests.
  async 'b-round'({ callers }) {
    const instance = await create(name, ctx);
    const t0 = now();
    const settled = await withTimeout(Promise.allSettled(Array.from({ length: callers }, () => instance.token())), 60_000, 'callers');
    const ms = now() - t0;
    const ok = settled.filter((s) => s.status === 'fulfilled' && instance.tokenOf(s.value)).length;
    const error = settled.find((s) => s.status === 'rejected');
    await closeQuietly(instance);
    return { ms, ok, failed: callers - ok, error: error ? describe(error.reason) : undefined };
  },

  // (c) rotation: one warm token first, then a caller every `interval` ms, each timed on its own.
  async 'c-prepare'() {
    rotating = await create(name, ctx, { rotation: true });
    const first = rotating.tokenOf(await rotating.token());
    return { first };
  },
  async 'c-run'({ callers, interval, first, drainWait }) {
    const instance = rotating;
    const samples = new Array(callers);
    const t0 = now();
    const windowStart = epoch();
    let pending = 0;
    let allDone;
    const fire = (i) => {
      pending++;
      const start = now();
      const record = (token, error) => {
        const end = now();
        const at = Date.now();
        samples[i] = [
          +(start - t0).toFixed(3),
          +(end - start).toFixed(4),
          token === undefined ? -1 : expiryOf(token) <= at ? 1 : 0,
          token ? Number(token.split('.')[1]) : -1,
          error,
        ];
        if (--pending === 0) allDone?.();
      };
      instance.token().then(
        (r) => record(instance.tokenOf(r)),
        (e) => record(undefined, describe(e)),
      );
    };
    let i = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const t = now();
        while (i < callers && t0 + i * interval <= t) fire(i++);
        if (i < callers) setTimeout(tick, Math.max(0, t0 + i * interval - now()));
        else resolve();
      };
      tick();
    });
    if (pending > 0) await withTimeout(new Promise((r) => (allDone = r)), 30_000, 'rotation callers');
    const windowEnd = epoch();
    // A refresh started near the end is given time to land, then one more call collects its token, so
    // that every request made in the window can be matched with a token handed out.
    await sleep(drainWait);
    const drainAt = epoch();
    let drained = -1;
    try {
      drained = Number(instance.tokenOf(await withTimeout(instance.token(), 10_000, 'drain call')).split('.')[1]);
    } catch {}
    await closeQuietly(instance);
    rotating = undefined;
    return { windowStart, windowEnd, drainAt, samples, drained, first: Number(first.split('.')[1]) };
  },

  // (d) authorized GETs at a fixed concurrency for a fixed time.
  async 'd-setup'({ url }) {
    warm ??= await create(name, ctx);
    for (let i = 0; i < 100; i++) await consume(await warm.request(url));
    return {};
  },
  async 'd-round'({ url, concurrency, ms }) {
    const request = warm.request;
    let requests = 0;
    let failures = 0;
    let error;
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const end = t0 + ms;
    const loop = async () => {
      while (now() < end) {
        try {
          const status = await consume(await request(url));
          if (status === 200) requests++;
          else failures++;
        } catch (e) {
          failures++;
          error ??= describe(e);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const cpu = process.cpuUsage(cpu0);
    return { requests, failures, ms: now() - t0, cpuUs: cpu.user + cpu.system, error };
  },

  // (e) a fresh client's first call, while the token endpoint answers 503, 503, then 200.
  async 'e-round'() {
    const instance = await create(name, ctx);
    const t0 = now();
    let ok = false;
    let error;
    try {
      ok = Boolean(instance.tokenOf(await withTimeout(instance.token(), 30_000, 'first call')));
    } catch (e) {
      error = describe(e);
    }
    const ms = now() - t0;
    await closeQuietly(instance);
    return { ok, ms, error };
  },

  // (g) in a process that has made no request yet: the first token call of a fresh instance, then the
  // token call of a second fresh instance (a second token request, with whatever the first one loaded or
  // compiled now warm). Creating the instances (and importing the package) is not timed: (f) is the import.
  async 'g-run'() {
    const timed = async (call) => {
      const cpu0 = process.cpuUsage();
      const t0 = now();
      const result = await withTimeout(call(), 30_000, 'token call');
      const ms = now() - t0;
      const cpu = process.cpuUsage(cpu0);
      return { result, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
    };
    const instances = [];
    const once = async () => {
      // bare fetch: the floor of a token request, a form POST and its JSON read, with no library.
      const instance = name === 'bare fetch' ? { token: () => tokenByHand(ctx), tokenOf: (t) => t } : await create(name, ctx);
      instances.push(instance);
      const { result, ms, cpuMs } = await timed(() => instance.token());
      if (!instance.tokenOf(result)) throw new Error('no token');
      return { ms, cpuMs };
    };
    try {
      const first = await once();
      const second = await once();
      return { first, second };
    } finally {
      for (const instance of instances) await closeQuietly(instance);
    }
  },

  async close() {
    await closeQuietly(warm);
    warm = undefined;
    return {};
  },
};

process.on('message', async (message) => {
  try {
    const result = await steps[message.type](message);
    process.send({ id: message.id, ok: true, result });
  } catch (error) {
    process.send({ id: message.id, ok: false, error: describe(error), stack: error?.stack });
  }
});
process.on('disconnect', () => process.exit(0));
// A library's stray rejection must not kill the measurement; it is reported with the step that fails.
process.on('unhandledRejection', () => {});
