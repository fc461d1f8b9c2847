// Turns a result object (bench/results/latest.json) into the markdown tables, docs/benchmarks.md and the
// SVG chart of scenario (c). Re-render without measuring again: `node bench/report.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCENARIOS } from './subjects.mjs';

/** The budgets of the issue "lean to install and to import". */
const TARGET = {
  cachedRatio: 1.3,
  fetchRatio: 0.98,
  importAboveEmptyMs: 10,
  footprintBytes: 400 * 1024,
  firstTokenExtraMs: 5,
  undiciRatio: 0.95,
};
/** The subjects of scenario (h), in the order bench/undici-interceptor.mjs measures them. */
const H = { fixed: 'fixed header', composed: 'fixed header, composed (no-op interceptor)', m2m: 'm2m-token/undici' };

// ---------------------------------------------------------------------------------------------------
// Formatting

const fmt = (x, digits = 3) => {
  if (x === undefined || x === null || Number.isNaN(x)) return '–';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
};
const range = (s, unit = '', digits = 3) => `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
const ratio = (x) => `${x.toFixed(x >= 100 ? 0 : 2)}×`;
const _bytes = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const signed = (x) => `${x >= 0 ? '+' : ''}${fmt(x)}`;
const code = (s) => `\`${s}\``;
/** A markdown table; `align` has one letter per column, l or r (default: first left, others right). */
const table = (head, rows, align = `l${'r'.repeat(head.length - 1)}`) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (align[i] === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
const naRow = (subject, scenario, width) => [subject.name, `n/a: ${subject.na[scenario]}`, ...Array(width - 2).fill('')];

/** The subjects of a scenario's table: those measured, and the peers that cannot do it (with why). */
function subjectsOf(results, scenario) {
  return results.subjects.filter((s) => results[scenario]?.[s.name] || (s.na[scenario] && !s.floor));
}

// ---------------------------------------------------------------------------------------------------
// Targets for m2m-token (measured, not asserted)

export function evaluateTargets(r) {
  const out = [];
  const m = 'm2m-token';
  if (r.a?.[m]) {
    const x = r.a[m].ratio.median;
    const cpu = r.a[m].cpuRatio ? `; CPU time ${ratio(r.a[m].cpuRatio.median)}` : '';
    out.push({
      id: 'a',
      goal: `cached \`getToken()\` within ${TARGET.cachedRatio}× the async baseline`,
      measured: `${ratio(x)}, median of the rounds' ratios (medians ${fmt(r.a[m].nsPerOp.median)} ns vs ${fmt(r.a.baseline.nsPerOp.median)} ns${cpu})`,
      met: x <= TARGET.cachedRatio,
    });
  }
  if (r.b?.[m]) {
    const req = r.b[m].requests;
    out.push({
      id: 'b',
      goal: 'exactly 1 token request for 1000 concurrent cold callers',
      measured: `${req.values.join(', ')} request(s) in ${req.values.length} rounds`,
      met: req.values.every((v) => v === 1) && r.b[m].failed.max === 0,
    });
  }
  if (r.c?.[m]) {
    const c = r.c[m];
    out.push({
      id: 'c',
      goal: 'rotation: max latency under 2 ms',
      measured: `max ${fmt(c.max)} ms (p99 ${fmt(c.p99)} ms)`,
      met: c.max < 2,
    });
    out.push({
      id: 'c',
      goal: 'rotation: zero expired tokens handed out',
      measured: `${c.expired} expired`,
      met: c.expired === 0 && c.failed === 0,
    });
    out.push({
      id: 'c',
      goal: 'rotation: token requests = rotations',
      measured: `${c.requests} requests, ${c.rotations} rotations`,
      met: c.requests === c.rotations,
    });
  }
  if (r.d?.[m]) {
    const x = r.d[m].ratio.median;
    const cpu = r.d[m].cpuRatio ? `; client CPU per request ${ratio(r.d[m].cpuRatio.median)}` : '';
    out.push({
      id: 'd',
      goal: `authorized requests/s at least ${TARGET.fetchRatio}× bare fetch`,
      measured: `${ratio(x)}, median of the rounds' ratios (medians ${fmt(r.d[m].rps.median)} vs ${fmt(r.d['bare fetch'].rps.median)} req/s${cpu})`,
      met: x >= TARGET.fetchRatio,
    });
  }
  if (r.e?.[m]) {
    const e = r.e[m];
    out.push({
      id: 'e',
      goal: '503, 503, 200: the first call succeeds',
      measured: `${e.succeeded}/${e.rounds} succeeded, ${fmt(e.ms.median)} ms, ${e.requests.median} requests`,
      met: e.succeeded === e.rounds,
    });
  }
  if (r.f?.imports?.[m]) {
    const cpu = r.f.cpuAboveEmpty?.[m]?.median;
    const wall = r.f.aboveEmpty?.[m]?.median;
    const inProcess = r.f.imports[m].median;
    out.push({
      id: 'f',
      goal: `cold \`import('m2m-token')\`: at most ${TARGET.importAboveEmptyMs} ms above an empty Node.js script (process CPU time)`,
      measured:
        cpu === undefined
          ? `${fmt(inProcess)} ms in the process`
          : `${signed(cpu)} ms CPU (wall time of the process ${signed(wall)} ms; the import timed in the process ${fmt(inProcess)} ms)`,
      met: (cpu ?? inProcess) <= TARGET.importAboveEmptyMs,
    });
    const fp = r.f.footprint[m];
    out.push({
      id: 'f',
      goal: `installed with its runtime dependencies: at most ${kib(TARGET.footprintBytes)}`,
      measured: `${kib(fp.bytes)} in ${fp.count} package${fp.count === 1 ? '' : 's'}${fp.count > 1 ? ` (${fp.packages.map((p) => `${p.name} ${kib(p.bytes)}`).join(', ')})` : ''}`,
      met: fp.bytes <= TARGET.footprintBytes,
    });
  }
  if (r.g?.[m]) {
    const g = r.g[m];
    const beyond = r.g[m].beyondFetchCpu;
    out.push({
      id: 'g',
      goal: `first \`getToken()\` of a process: at most ${TARGET.firstTokenExtraMs} ms more client CPU time than the second token request, beyond what Node.js's \`fetch()\` itself costs on its first request`,
      measured: beyond
        ? `${signed(beyond.median)} ms beyond it (first ${fmt(g.firstCpu.median)} ms vs second ${fmt(g.secondCpu.median)} ms CPU: ${signed(g.extraCpu.median)} ms; bare fetch's own first request ${signed(r.g['bare fetch'].extraCpu.median)} ms)`
        : `${signed(g.extraCpu.median)} ms CPU`,
      met: (beyond ?? g.extraCpu).median <= TARGET.firstTokenExtraMs,
    });
  }
  if (r.h?.[H.m2m]) {
    const h = r.h[H.m2m];
    out.push({
      id: 'h',
      goal: `\`undici.request\` through \`m2m-token/undici\`: requests/s at least ${TARGET.undiciRatio}× the same requests with a fixed header`,
      measured: `${ratio(h.vsFixed.median)}, median of the rounds' ratios (medians ${fmt(h.rps.median)} vs ${fmt(r.h[H.fixed].rps.median)} req/s; ${ratio(h.vsComposed.median)} a no-op \`compose()\`; client CPU per request ${ratio(h.cpuVsFixed.median)})`,
      met: h.vsFixed.median >= TARGET.undiciRatio,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Tables

function tableH(r) {
  const rows = Object.values(H).map((name) => {
    const x = r.h[name];
    return [
      name === H.composed ? `${name} *(reference)*` : name,
      range(x.rps),
      ratio(x.vsFixed.median),
      ratio(x.vsComposed.median),
      range(x.cpuUsPerRequest, ' µs'),
      ratio(x.cpuVsFixed.median),
    ];
  });
  return table(
    ['Subject', 'requests/s, median (min–max)', '× fixed header', '× no-op compose()', 'client CPU per request', 'CPU × fixed header'],
    rows,
  );
}

function tableA(r) {
  const rows = subjectsOf(r, 'a').map((s) => {
    const x = r.a[s.name];
    if (!x) return naRow(s, 'a', 6);
    const cpu = x.cpuNsPerOp ? [range(x.cpuNsPerOp), ratio(x.cpuRatio.median)] : ['–', '–'];
    return [s.name, range(x.nsPerOp), ratio(x.ratio.median), ...cpu, fmt(x.opsPerRound.median)];
  });
  return table(
    ['Subject', 'ns per awaited call, median (min–max)', '× baseline', 'CPU ns per call', 'CPU × baseline', 'calls per round'],
    rows,
  );
}

function tableB(r) {
  const rows = subjectsOf(r, 'b').map((s) => {
    const x = r.b[s.name];
    if (!x) return naRow(s, 'b', 4);
    const req = x.requests.min === x.requests.max ? fmt(x.requests.median) : range(x.requests);
    return [s.name, req, range(x.ms, ' ms'), x.failed.max ? `${x.failed.max} (${x.error})` : '0'];
  });
  return table(['Subject', 'token requests', 'time until all 1000 resolved, median (min–max)', 'failed callers'], rows);
}

function tableC(r) {
  const rows = subjectsOf(r, 'c').map((s) => {
    const x = r.c[s.name];
    if (!x) return naRow(s, 'c', 7);
    return [
      s.name,
      `${fmt(x.p50)} ms`,
      `${fmt(x.p99)} ms`,
      `${fmt(x.max)} ms`,
      fmt(x.requests),
      fmt(x.rotations),
      x.failed ? `${x.expired} (+${x.failed} failed)` : fmt(x.expired),
    ];
  });
  return table(['Subject', 'p50', 'p99', 'max', 'token requests', 'rotations', 'expired tokens handed out'], rows);
}

function tableD(r) {
  const rows = subjectsOf(r, 'd').map((s) => {
    const x = r.d[s.name];
    if (!x) return naRow(s, 'd', 6);
    const cpu = x.cpuUsPerRequest ? [range(x.cpuUsPerRequest, ' µs'), ratio(x.cpuRatio.median)] : ['–', '–'];
    return [
      s.floor && s.name !== 'bare fetch' ? `${s.name} *(reference)*` : s.name,
      range(x.rps),
      ratio(x.ratio.median),
      ...cpu,
      x.failures ? `${x.failures} (${x.error ?? 'non-200'})` : '0',
    ];
  });
  return table(
    ['Subject', 'authorized requests/s, median (min–max)', '× bare fetch', 'client CPU per request', 'CPU × bare fetch', 'failed'],
    rows,
  );
}

function tableE(r) {
  const rows = subjectsOf(r, 'e').map((s) => {
    const x = r.e[s.name];
    if (!x) return naRow(s, 'e', 5);
    const ok = x.succeeded === x.rounds ? 'yes' : x.succeeded === 0 ? 'no' : `${x.succeeded}/${x.rounds}`;
    return [s.name, ok, range(x.ms, ' ms'), fmt(x.requests.median), x.error ? code(x.error.replace(/\|/g, '/').slice(0, 90)) : ''];
  });
  return table(['Subject', 'first call succeeds', 'time of the first call', 'token requests', 'error'], rows, 'lrrrl');
}

function tableF(r) {
  const rows = r.subjects
    .filter((s) => !s.na.f)
    .map((s) => {
      const imp = r.f.imports[s.name];
      const above = r.f.aboveEmpty?.[s.name];
      const fp = r.f.footprint[s.name];
      const cpu = r.f.cpuAboveEmpty?.[s.name];
      return [
        `${s.name} (${s.packages.map(code).join(' + ')})`,
        cpu ? range(cpu, ' ms') : '–',
        above ? range(above, ' ms') : '–',
        range(imp, ' ms'),
        `${kib(fp.bytes)}`,
        fmt(fp.count),
        fmt(fp.files),
      ];
    });
  const empty = r.f.processMs?.['empty script'];
  const emptyCpu = r.f.cpuMs?.['empty script'];
  if (empty)
    rows.push([
      '*empty script (the floor)*',
      emptyCpu ? `${fmt(emptyCpu.median)} ms CPU per process` : '–',
      `${fmt(empty.median)} ms per process`,
      '–',
      '–',
      '–',
      '–',
    ]);
  return table(
    [
      'Package (what is imported)',
      'CPU time above an empty script, median (min–max)',
      'wall time above an empty script',
      'import timed in the process',
      'installed with its dependencies',
      'packages',
      'files',
    ],
    rows,
  );
}

function tableG(r) {
  const rows = r.subjects
    .filter((s) => r.g[s.name] || (s.na.g && !s.floor))
    .map((s) => {
      const x = r.g[s.name];
      if (!x) return naRow(s, 'g', 7);
      return [
        s.floor ? `${s.name} *(floor: a token request by hand)*` : s.name,
        range(x.firstCpu, ' ms'),
        range(x.secondCpu, ' ms'),
        range(x.extraCpu, ' ms'),
        x.beyondFetchCpu ? range(x.beyondFetchCpu, ' ms') : '–',
        range(x.first, ' ms'),
        range(x.second, ' ms'),
      ];
    });
  return table(
    [
      'Subject',
      'first token: client CPU',
      'second token request: client CPU',
      'CPU, first − second',
      'the same beyond bare fetch’s',
      'first: wall',
      'second: wall',
    ],
    rows,
  );
}

function tableDist(r) {
  const d = r.f.dist;
  return table(
    ['File', 'bytes'],
    d.files.filter(([f]) => /\.(c?js|map)$/.test(f)).map(([f, b]) => [code(f), fmt(b)]),
  );
}

function tableZod(r) {
  const i = r.f.imports;
  const rows = [
    ['m2m-token as built', i['m2m-token']],
    ['m2m-token with `zod/mini` replaced by `zod`', i['m2m-token with classic zod']],
    ['`zod/mini` alone', i['zod/mini (alone)']],
    ['`zod` alone', i['zod (alone)']],
  ]
    .filter(([, x]) => x)
    .map(([name, x]) => [name, range(x, ' ms')]);
  return table(['Import', 'cold import, median (min–max)'], rows);
}

function tableClosure(r, name) {
  const fp = r.f.footprint[name];
  return table(
    ['Package', 'version', 'installed', 'files'],
    fp.packages.map((p) => [p.name, p.version, kib(p.bytes), fmt(p.files)]),
  );
}

function targetsTable(r) {
  return table(
    ['', 'Target for m2m-token', 'Measured', 'Met'],
    r.targets.map((t) => [`(${t.id})`, t.goal, t.measured, t.met ? 'yes' : '**no**']),
    'llll',
  );
}

/** The tables alone: bench/results/latest.md and the console. */
export function renderMarkdown(r) {
  const parts = [`# m2m-token benchmarks — ${r.meta.date}`, '', machineLine(r), ''];
  if (r.targets?.length) parts.push('## Targets', '', targetsTable(r), '');
  if (r.a) parts.push('## (a) Cached token', '', tableA(r), '');
  if (r.b) parts.push(`## (b) ${r.meta.config.b.callers} concurrent cold callers`, '', tableB(r), '');
  if (r.c) parts.push('## (c) Rotation', '', tableC(r), '');
  if (r.d) parts.push(`## (d) Authorized requests/s at concurrency ${r.meta.config.d.concurrency}`, '', tableD(r), '');
  if (r.e) parts.push('## (e) 503, 503, 200', '', tableE(r), '');
  if (r.f) parts.push('## (f) Cold import and footprint', '', tableF(r), '', tableZod(r), '');
  if (r.g) parts.push('## (g) First token of a process', '', tableG(r), '');
  if (r.h) parts.push(`## (h) undici.request through m2m-token/undici at concurrency ${r.meta.config.h.concurrency}`, '', tableH(r), '');
  return `${parts.join('\n')}\n`;
}

function machineLine(r) {
  const m = r.meta;
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; Node.js ${m.node}; load average at start ${m.loadAverage.start.join(' ')}, at end ${m.loadAverage.end?.join(' ') ?? '–'}; run took ${m.durationS} s.`;
}

/**
 * Notes on m2m-token's own figures, from the measurements of this run: where its slowest rotation calls
 * fall, and what a missed target is made of.
 */
function m2mNotes(r) {
  const notes = [];
  const missed = (id, goal) => r.targets?.some((t) => t.id === id && !t.met && (!goal || t.goal.includes(goal)));
  const a = r.a?.['m2m-token'];
  if (a && missed('a')) {
    notes.push(
      `- **m2m-token's cached \`getToken()\`** (${ratio(a.ratio.median)} the baseline in wall time, ${a.cpuRatio ? ratio(a.cpuRatio.median) : '–'} in CPU time) returns the entry's prebuilt promise without reading the clock while the token is fresh (a timer ends that window), and reads \`performance.now()\` after it. A miss here means the machine was noisy or the window was shut: it opens once a probe has seen a timer run (10 ms after the first cached call), and ends at the token's refresh instant, at least 30 s before the token stops being handed out.`,
    );
  }
  const d = r.d?.['m2m-token'];
  if (d && missed('d')) {
    notes.push(
      `- **m2m-token's \`client.fetch()\`** (${ratio(d.ratio.median)} bare fetch's requests/s, ${d.cpuRatio ? ratio(d.cpuRatio.median) : '–'} its client CPU per request) sends with \`redirect: 'manual'\` so that it follows redirects itself (a second \`init\` object per request), copies the caller's headers into a new \`Headers\` when there are any, and checks each response's status for a 401 to retry. Requests/s at concurrency 50 vary by tens of percent from round to round on a shared machine; \`node bench/instructions.mjs\` counts the instructions per request of \`client.fetch\` and bare \`fetch\` under callgrind instead, which the machine's load does not change.`,
    );
  }
  const h = r.h?.[H.m2m];
  if (h && missed('h')) {
    notes.push(
      `- **\`m2m-token/undici\`** (${ratio(h.vsFixed.median)} the fixed header's requests/s, ${ratio(h.vsComposed.median)} a no-op \`compose()\`'s): \`compose()\` itself costs ${ratio(r.h[H.composed].vsFixed.median)} the fixed header here — undici wraps the caller's handler at every interceptor and unwraps it at the \`Agent\`, parsing each response's headers into an object and back into buffers. The interceptor avoids that conversion (its attempts speak undici's first handler API, which the \`Agent\` runs on), dispatches at once with a cached token, and adds the copy of the request options and the headers list per request.`,
    );
  }
  const c = r.c?.['m2m-token'];
  if (c) {
    // The slowest calls, and whether each started a refresh: a token request reached the server within
    // 10 ms after the call began.
    const slowest = [...c.series]
      .filter((s) => s[2] !== -1)
      .sort((a, b) => b[1] - a[1])
      .slice(0, c.requests);
    const starters = slowest.filter(([t]) => c.requestsAt.some((q) => q >= t && q - t <= 10)).length;
    notes.push(
      `- **m2m-token** starts one background refresh once 80% of a token's usable life has passed (less up to 5% jitter) and keeps handing out the current token, so no caller waits for the token endpoint. Its ${slowest.length} slowest calls in (c) (${slowest.map((s) => `${fmt(s[1])} ms`).join(', ')}) ${
        starters === slowest.length ? 'are each the call that started a refresh' : `include ${starters} that started a refresh`
      }: that caller runs the synchronous start of the token request (form body, retry wrapper, \`fetch()\` setup) before it gets its cached token.`,
    );
  }
  const fImport = r.f?.imports;
  const fp = r.f?.footprint?.['m2m-token'];
  if (fImport?.['m2m-token'] && fp) {
    const zodPkg = fp.packages.find((p) => p.name === 'zod');
    const zod = fImport['zod/mini (alone)']?.median;
    const dist = r.f.dist;
    notes.push(
      zodPkg
        ? `- **m2m-token's cold import** (${fmt(fImport['m2m-token'].median)} ms in the process) and its installed size are mostly zod's: the \`zod\` package (${kib(zodPkg.bytes)}) ships its TypeScript sources, the classic and mini APIs, Zod 3 and its locales whichever is imported.`
        : `- **m2m-token bundles what it uses of \`zod/mini\` and \`p-retry\`** into its build, so it installs no dependency: the package is ${kib(fp.bytes)} (${dist ? `${kib(dist.code)} of JavaScript, ${kib(dist.types)} of type declarations${dist.maps ? `, ${kib(dist.maps)} of source maps` : ''}` : ''}), and its import (${fmt(fImport['m2m-token'].median)} ms in the process) builds no schema${zod ? `, where importing \`zod/mini\` from the \`zod\` package takes ${fmt(zod)} ms on its own (Node.js loads ${r.f.modules?.['zod/mini']?.modules ?? 'its'} modules, locales included, where a bundler keeps only the functions used)` : ''}.`,
    );
  }
  if (fImport?.['m2m-token'] && missed('f', 'import')) {
    notes.push(
      `- **m2m-token's cold import** (${signed(r.f.cpuAboveEmpty['m2m-token'].median)} ms CPU above an empty script) is Node.js loading three files (\`index.js\`, \`index.cjs\`, and \`core.cjs\`, the library with the bundled p-retry), compiling them and running their top level, and, for \`import\`, reading the CommonJS entry's exports (Node's cjs-module-lexer). No zod code runs at import: the bundled zod (\`dist/zod.cjs\`) loads, and the token response's schema is built, with the first token request, before it is sent; \`node:crypto\` and \`node:fs/promises\` are loaded on first use.`,
    );
  }
  const g = r.g?.['m2m-token'];
  if (g && missed('g')) {
    notes.push(
      `- **m2m-token's first token request** costs ${fmt(g.extraCpu.median)} ms more client CPU than the second: code run for the first time (compiled lazily by V8) and Node.js's own \`fetch()\` machinery, which it loads on the first request (see bare fetch's own first request in (g)).`,
    );
  }
  return notes.length ? `\n### And m2m-token\n\n${notes.join('\n')}\n` : '';
}

// ---------------------------------------------------------------------------------------------------
// docs/benchmarks.md

export function renderDocs(r) {
  const m = r.meta;
  const cfg = m.config;
  const version = `${m.m2mToken.version} (${m.m2mToken.commit}${m.m2mToken.dirty ? ', with uncommitted changes' : ''})`;
  const peerList = Object.entries(m.peers)
    .map(([n, v]) => `${code(`${n}@${v}`)}`)
    .join(', ');
  const missed = r.targets.filter((t) => !t.met);
  return `# Benchmarks

<!-- Generated by \`npm run bench\` (bench/run.mjs) from one run; do not edit by hand, run the bench again. -->

What a token client costs you, measured side by side in one run: nanoseconds on every outbound call,
token-endpoint load, latency at rotation, resilience to a flaky token endpoint, cold-start time and
install size. m2m-token ${version} against ${peerList}, on ${m.date.slice(0, 10)}.

Reproduce with \`npm run bench\` (this run took ${Math.round(m.durationS)} s on ${m.cores} cores). It installs the bench's own
dependencies (\`bench/package.json\`, apart from the package's), builds m2m-token, packs it and installs the
tarball into a scratch project, measures that — the package as users get it — and writes
\`bench/results/latest.json\`, \`bench/results/latest.md\`, this page and [the chart](rotation-latency.svg).

${m.loadAverage.start[0] > m.cores ? `> The machine was busy with other work during this run (load average ${m.loadAverage.start[0]} at the start on ${m.cores} cores), so absolute figures are higher and noisier than on an idle machine; the subjects alternate round by round, so ratios within a round still compare like with like.\n\n` : ''}## Targets for m2m-token

${targetsTable(r)}
${missed.length ? `\n${missed.length} target(s) missed in this run: see [the notes on m2m-token](#and-m2m-token) below.\n` : ''}
## Results

### (a) Cached \`getToken()\`

Each round awaits the subject's cached-token call in batches of 1000 until ${fmt(cfg.a.maxOps)} calls or
${cfg.a.maxMs} ms, after a warm-up; ${cfg.a.rounds} rounds. "× baseline" is the median of each round's ratio to
\`async () => cachedToken\` in the same round. The CPU columns divide the worker process's CPU time
(\`process.cpuUsage()\`, all its threads) by the calls instead: unlike wall time it leaves out the time
the process waited for a core held by another process.

${tableA(r)}

### (b) ${cfg.b.callers} concurrent cold callers

A fresh client, then ${cfg.b.callers} calls in the same tick with nothing cached; the token endpoint answers
at once. Token requests are counted by the server; ${cfg.b.rounds} rounds.

${tableB(r)}

### (c) Rotation

Tokens live ${cfg.c.lifetime} s and the token endpoint takes ${cfg.c.delay} ms. After one warm token, a caller every
${cfg.c.interval} ms for ${(cfg.c.callers * cfg.c.interval) / 1000} s (${cfg.c.callers} calls), each timed from the call to its result. An expired
token is one whose expiry (as issued by the server) has passed when the caller gets it. Rotations are
the new tokens handed out during the run (and one call ${cfg.c.drainWait} ms after it, to collect a refresh
still in flight); a client that wastes no request has requests = rotations. One run per subject, one
subject at a time.

${tableC(r)}

![Latency of every call during rotation, per client](rotation-latency.svg)

### (d) Authorized requests per second

${cfg.d.concurrency} concurrent loops of GET through each library's fetch wrapper or interceptor against the
resource server (which checks the token), reading each body; ${cfg.d.rounds} rounds of ${cfg.d.ms} ms after a warm-up.
"× bare fetch" is the median of each round's ratio to \`fetch\` with a fixed header in the same round.
Client CPU per request is the client process's CPU time (all threads) over the requests it made: the
cost of the wrapper itself, whoever else needs the cores.
The resource server rejected ${r.dServer?.rejected ?? 0} of ${fmt((r.dServer?.ok ?? 0) + (r.dServer?.rejected ?? 0))} requests.

${tableD(r)}

### (e) Token endpoint answers 503, 503, then 200

A fresh client's first call while the token endpoint fails twice with
\`503 {"error":"temporarily_unavailable"}\` (no \`Retry-After\`); ${cfg.e.rounds} rounds.

${tableE(r)}

### (f) Cold import and installed footprint

Cold import: a fresh \`node\` process runs a script file (an ES module, as a service's entry point is)
that does \`await import()\` of the package (and of what its README imports with it), ${cfg.f.rounds} processes per
package, alternating with an empty script. "Above an empty script" is
the whole process, spawn to exit, less the empty script's in the same round: what importing the
package adds to a process's start. The import is also timed inside the process. Footprint: the bytes
of every file of the package and its dependency closure as npm installs them (m2m-token: the \`npm pack\`
tarball installed into a scratch project; the peers: \`bench/node_modules\`).${r.f.tarball ? ` The m2m-token tarball is ${kib(r.f.tarball.size)} (${kib(r.f.tarball.unpackedSize)} unpacked${r.f.dist ? `: ${kib(r.f.dist.code)} of JavaScript for ESM and CommonJS, ${kib(r.f.dist.types)} of type declarations${r.f.dist.maps ? `, ${kib(r.f.dist.maps)} of source maps` : ''}, ${kib(r.f.dist.other)} of README, licences and package.json` : ''}).` : ''}

${tableF(r)}

m2m-token's closure:

${tableClosure(r, 'm2m-token')}
${r.f.dist ? `\nm2m-token's JavaScript${r.f.dist.maps ? ' and source maps' : ''}, by file:\n\n${tableDist(r)}\n` : ''}
\`zod/mini\` against classic \`zod\`, imported on their own from the \`zod\` package${r.f.footprint['m2m-token'].packages.some((p) => p.name === 'zod') ? '' : ' (m2m-token bundles what it uses of `zod/mini` instead)'}:

${tableZod(r)}
${
  r.g
    ? `
### (g) First token of a process

A fresh client process per subject and round (${cfg.g.rounds} rounds): the package is imported and a client
created (not timed), then its first token call is timed, then a second client is created and its
token call timed: the same token request, with what the first one loaded and compiled now warm.
Client CPU is the process's CPU time over the call; the token endpoint answers at once. Bare fetch
is a form POST to the token endpoint with \`fetch()\` and its JSON read: Node.js loads its \`fetch()\`
machinery on the first request, so that part of the difference is every client's.

${tableG(r)}
`
    : ''
}${
  r.h
    ? `
### (h) \`undici.request\` through \`m2m-token/undici\`

m2m-token alone: ${cfg.h.concurrency} concurrent loops of \`undici.request(url, { dispatcher })\` reading each body, against a
resource server (in another process) that checks the token; ${cfg.h.rounds} rounds of ${cfg.h.ms} ms after a warm-up, the three
subjects alternating in one client process. The dispatcher is an \`Agent\` composed with
\`authorize(client, { origins })\`, against the same \`Agent\` with a fixed \`Authorization\` header, and that
with a no-op interceptor composed (\`(dispatch) => (opts, handler) => dispatch(opts, handler)\`), which shows
what \`Dispatcher.compose()\` costs by itself. Ratios are the medians of each round's ratios.

${tableH(r)}
`
    : ''
}
## Why each client behaves as it does

What the figures above come from, read from each peer's source at the versions listed:

- **simple-oauth2**, used with its README's \`expired()\` check: nothing shares a request in flight, so
  every caller that finds no valid token sends its own token request (1000 cold callers, 1000 requests;
  at each rotation, one request per caller during the token endpoint's 200 ms).
- **@badgateway/oauth2-client**: \`OAuth2Fetch\` shares one request in flight, but refreshes only once
  the token has expired (its timer refresh needs a refresh token, which the client credentials grant
  does not issue), so every caller waits for the token endpoint at each rotation. Expiry is dated from
  when the response was read, with no margin, so a token can still be handed out for the moment
  between its expiry at the server and its expiry in the client.
- **axios-oauth-client** with \`axios-token-interceptor\`: a lock lets one caller fetch while the others
  queue (one request); the cache keeps a token for \`expires_in\` from when it arrived, with no margin and
  no refresh ahead, so callers wait at each rotation.
- **@azure/msal-node**: \`acquireTokenByClientCredential()\` looks up its in-memory cache on every call
  (its profile is dominated by logging, URL and JSON parsing), treats a token with less than 5 minutes
  left as expired, and shares no request in flight.
- **openid-client** has no token cache by design: a \`clientCredentialsGrant()\` is one token request.
${m2mNotes(r)}
## How each subject is used

Each peer is used the way its README (or documented API) shows; where it has no way to do a scenario
the table says n/a and why, instead of the bench adding an adapter of its own. All share the same
client id, secret and scope (\`${'api://bench/.default'}\`).

${table(
  ['Subject', 'Version', 'Usage', 'n/a'],
  r.subjects.map((s) => [
    s.name,
    s.packages.length ? s.packages.map((p) => (p === 'm2m-token' ? m.m2mToken.version : m.peers[p])).join(' / ') : '–',
    s.usage.replace(/\|/g, '\\|'),
    Object.entries(s.na)
      .map(([k, v]) => `(${k}) ${v}`)
      .join('; ')
      .replace(/\|/g, '\\|'),
  ]),
  'llll',
)}

## Machine

${table(
  ['', ''],
  [
    ['CPU', `${m.cpu}, ${m.cores} cores`],
    ['Memory', `${m.memoryGiB} GiB`],
    ['OS', m.os],
    ['Node.js', m.node],
    ['Load average (1, 5, 15 min)', `${m.loadAverage.start.join(', ')} at start; ${m.loadAverage.end?.join(', ') ?? '–'} at end`],
    ['Duration of the run', `${m.durationS} s`],
  ],
  'll',
)}

## Method

- **Processes.** The token endpoint and the resource server run in one child process on 127.0.0.1
  (ephemeral ports; http, plus https with a certificate made for the run, for msal-node). Each subject
  runs in a client process of its own, a fresh one for every scenario, so no library shares a heap, JIT
  state or connection pool with another or carries state from one scenario to the next; an orchestrator
  process sends the steps over IPC and waits, so one client runs at a time.
- **Alternation.** In (a), (b), (d), (e), (f), (g) and (h) every round runs every subject once, in an order
  rotated by one each round, so that noise from the machine falls on all of them alike. Results are
  medians with the min–max over rounds; ratios are taken per round against the baseline of the same
  round, then the median of those ratios is reported.
- **Timing.** \`process.hrtime.bigint()\` in (a), \`performance.now()\` elsewhere; token expiry is read
  from the token itself (\`bench.<n>.<expiresAt>\`), set by the server when it sends the response.
- **Bounded.** Every loop has a count and a time limit; every step of a child process has a timeout;
  servers listen on loopback only and end with the run.
- **The numbers are this machine's**: compare ratios within a run, not absolute figures across machines.
`;
}

// ---------------------------------------------------------------------------------------------------
// docs/rotation-latency.svg: one panel per client, latency (log scale) of every call over time.

const COLORS = ['#1b7837', '#2166ac', '#b2182b', '#e08214', '#762a83', '#01665e', '#8c510a'];

export function renderRotationSvg(r) {
  const names = r.subjects.filter((s) => r.c?.[s.name]).map((s) => s.name);
  const cfg = r.meta.config.c;
  const W = 960;
  const left = 70;
  const right = 20;
  const panelH = 120;
  const gap = 34;
  const top = 70;
  const H = top + names.length * (panelH + gap) + 30;
  const plotW = W - left - right;
  const duration = (cfg.callers * cfg.interval) / 1000;
  const yMin = 0.01;
  const slowest = Math.max(...names.map((n) => r.c[n].max ?? 0));
  const yMax = 10 ** Math.max(3, Math.ceil(Math.log10(Math.max(slowest, 1))));
  const x = (ms) => left + (ms / (duration * 1000)) * plotW;
  const y = (v, y0) => {
    const c = Math.min(Math.max(v, yMin), yMax);
    return y0 + panelH - ((Math.log10(c) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * panelH;
  };
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">Latency of each token call during rotation (scenario c)</text>`,
    `<text x="${left}" y="38" fill="#444">${cfg.lifetime} s tokens, ${cfg.delay} ms token endpoint, a caller every ${cfg.interval} ms for ${duration} s. Log scale. Line: slowest call started in each 20 ms;</text>`,
    `<text x="${left}" y="53" fill="#444">red dots: an expired token handed out; grey ticks: token requests reaching the server; dashed line: 2 ms.</text>`,
  ];
  names.forEach((name, i) => {
    const c = r.c[name];
    const y0 = top + i * (panelH + gap) + 18;
    const color = COLORS[i % COLORS.length];
    out.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold" fill="${color}">${esc(name)}</text>`);
    out.push(
      `<text x="${W - right}" y="${y0 - 6}" text-anchor="end" fill="#444">p50 ${fmt(c.p50)} ms · p99 ${fmt(c.p99)} ms · max ${fmt(c.max)} ms · ${c.requests} requests · ${c.expired} expired</text>`,
    );
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="#fafafa" stroke="#ccc"/>`);
    for (let e = Math.log10(yMin); e <= Math.log10(yMax); e++) {
      const v = 10 ** e;
      const yy = y(v, y0).toFixed(1);
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`);
      out.push(
        `<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="#666" font-size="10">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`,
      );
    }
    const two = y(2, y0).toFixed(1);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${two}" y2="${two}" stroke="#888" stroke-dasharray="4 3"/>`);
    for (const t of c.requestsAt) {
      if (t > duration * 1000) continue;
      const xx = x(t).toFixed(1);
      out.push(`<line x1="${xx}" x2="${xx}" y1="${y0 + panelH}" y2="${y0 + panelH - 8}" stroke="#777"/>`);
    }
    const bucket = 20;
    const buckets = new Map();
    for (const [t, latency] of c.series) {
      const b = Math.floor(t / bucket);
      buckets.set(b, Math.max(buckets.get(b) ?? 0, latency));
    }
    // A window without calls (the event loop was busy) breaks the line instead of bridging it.
    let previous;
    const path = [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([b, v]) => {
        const move = previous === undefined || b !== previous + 1 ? 'M' : 'L';
        previous = b;
        return `${move}${x((b + 0.5) * bucket).toFixed(1)},${y(v, y0).toFixed(1)}`;
      });
    out.push(`<path fill="none" stroke="${color}" stroke-width="1.3" d="${path.join('')}"/>`);
    for (const [t, latency, expired] of c.series) {
      if (expired === 1) out.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(latency, y0).toFixed(1)}" r="2.5" fill="#d7191c"/>`);
    }
  });
  const axisY = top + names.length * (panelH + gap) + 4;
  for (let s = 0; s <= duration; s++) {
    out.push(`<text x="${x(s * 1000).toFixed(1)}" y="${axisY}" text-anchor="middle" fill="#666">${s} s</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// Re-render from the last result file.
if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(import.meta.dirname, '..');
  const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8'));
  results.targets = evaluateTargets(results);
  writeFileSync(join(root, 'bench', 'results', 'latest.md'), renderMarkdown(results));
  if (SCENARIOS.every((k) => results[k])) {
    writeFileSync(join(root, 'docs', 'rotation-latency.svg'), renderRotationSvg(results));
    writeFileSync(join(root, 'docs', 'benchmarks.md'), renderDocs(results));
  }
  console.log(renderMarkdown(results));
}
