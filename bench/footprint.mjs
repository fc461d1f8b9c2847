// Scenario (f): cold import time and installed footprint of each package with its dependency closure.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Packs the repository as published (`npm pack`) and installs the tarball into a scratch project, the
 * way a user gets it: the package with its runtime dependency closure and nothing else.
 */
export async function installPacked(root) {
  const scratch = mkdtempSync(join(tmpdir(), 'm2m-token-bench-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
    cwd: root,
    maxBuffer: 1 << 24,
  });
  const [{ filename, unpackedSize, size, files }] = JSON.parse(stdout);
  if (!files.some((f) => f.path === 'dist/index.js')) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error('the packed package has no dist/index.js (was dist/ cleaned by another build meanwhile?)');
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', '--no-package-lock', join(scratch, filename)],
    {
      cwd: scratch,
      maxBuffer: 1 << 24,
    },
  );
  return { scratch, tarball: { filename, size, unpackedSize } };
}

/** Bytes and files of a package directory, without its nested node_modules. */
function sizeOf(dir) {
  let bytes = 0;
  let files = 0;
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'node_modules' && d === dir) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        bytes += lstatSync(p).size;
        files++;
      }
    }
  };
  walk(dir);
  return { bytes, files };
}

/** Where Node would find `name` from a package at `from`: the nearest node_modules up the tree. */
function resolvePackage(name, from) {
  for (let d = from; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * The dependency closure of `names`, resolved from `base` as Node resolves them: dependencies,
 * non-optional peer dependencies and the optional dependencies that are installed.
 */
export function closure(names, base) {
  const seen = new Map();
  const visit = (name, from, required) => {
    const dir = resolvePackage(name, from);
    if (dir === undefined) {
      if (required) throw new Error(`${name} is not installed (from ${from})`);
      return;
    }
    if (seen.has(dir)) return;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    seen.set(dir, { name: pkg.name, version: pkg.version, ...sizeOf(dir) });
    const optionalPeers = pkg.peerDependenciesMeta ?? {};
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, dir, true);
    for (const dep of Object.keys(pkg.peerDependencies ?? {})) visit(dep, dir, !optionalPeers[dep]?.optional);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, dir, false);
  };
  for (const name of names) visit(name, base, true);
  const packages = [...seen.values()].sort((a, b) => b.bytes - a.bytes);
  return {
    bytes: packages.reduce((s, p) => s + p.bytes, 0),
    files: packages.reduce((s, p) => s + p.files, 0),
    packages,
  };
}

let scripts = 0;

/**
 * A fresh Node.js process running a script file (an ES module in `cwd`, as a service's entry point is)
 * that `import()`s the specifiers, in order: `ms` is the import as timed inside the process, `processMs`
 * the whole process from spawn to exit as timed from outside, `cpuMs` the CPU time the process used up
 * to the end of the script, start-up included (all threads). With no specifiers: an empty script, the
 * floor every process pays. A file, not `node -e`: Node.js 20 loads the machinery that reads ES module
 * files (node:fs/promises, readline) for the first file it imports, and a service's own entry file has
 * already paid for it; with `-e` it counted against the first package imported (about 37 million
 * instructions, a third of m2m-token's import).
 */
export async function importTime(specifiers, cwd) {
  const code = `const t0 = performance.now();\n${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join('\n')}\nconst ms = performance.now() - t0;\nconst cpu = process.cpuUsage();\nprocess.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000 }));`;
  const script = join(cwd, `.import-time-${process.pid}-${scripts++}.mjs`);
  writeFileSync(script, code);
  const t0 = performance.now();
  let stdout;
  try {
    ({ stdout } = await run(process.execPath, [script], { cwd, timeout: 60_000 }));
  } finally {
    rmSync(script, { force: true });
  }
  const processMs = performance.now() - t0;
  let parsed;
  try {
    parsed = JSON.parse(stdout);
  } catch {}
  if (!Number.isFinite(parsed?.ms) || !Number.isFinite(parsed?.cpuMs))
    throw new Error(`import of ${specifiers.join(', ')} printed ${stdout}`);
  return { ms: parsed.ms, cpuMs: parsed.cpuMs, processMs };
}

/**
 * A copy of the packed m2m-token's ESM build that imports the classic `zod` API instead of `zod/mini`,
 * to measure what `zod/mini` saves (the "before"). Returns its path relative to `scratch`, or
 * undefined when the copy does not load (an API used that classic zod lacks).
 */
export async function classicZodVariant(scratch) {
  const dist = join(scratch, 'node_modules', 'm2m-token', 'dist');
  const source = readFileSync(join(dist, 'index.js'), 'utf8');
  if (!source.includes('"zod/mini"')) return undefined;
  writeFileSync(join(dist, 'index.classic-zod.js'), source.replaceAll('"zod/mini"', '"zod"'));
  if (existsSync(join(dist, 'index.js.map'))) copyFileSync(join(dist, 'index.js.map'), join(dist, 'index.classic-zod.js.map'));
  const spec = './node_modules/m2m-token/dist/index.classic-zod.js';
  try {
    await importTime([spec], scratch);
    return spec;
  } catch {
    return undefined;
  }
}

/**
 * The ES modules that importing `specifier` (from `cwd`) loads within its own package: the graph of its
 * relative imports, with their total size, and how many of them are zod locales.
 */
export async function moduleGraph(specifier, cwd) {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', `process.stdout.write(import.meta.resolve(${JSON.stringify(specifier)}))`],
    { cwd },
  );
  const entry = fileURLToPath(stdout);
  const seen = new Set();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/(?:^|[\s;}])(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']/g))
      stack.push(resolvePath(dirname(file), m[1]));
    for (const m of source.matchAll(/(?:^|[\s;])import\s*["'](\.[^"']+)["']/g)) stack.push(resolvePath(dirname(file), m[1]));
  }
  let bytes = 0;
  for (const file of seen) bytes += lstatSync(file).size;
  return { modules: seen.size, bytes, locales: [...seen].filter((f) => f.includes('/locales/')).length };
}

/** The installed m2m-token's files by kind (code, source maps, type declarations, the rest), in bytes. */
export function distSizes(scratch) {
  const dir = join(scratch, 'node_modules', 'm2m-token');
  const kinds = { code: 0, maps: 0, types: 0, other: 0 };
  const files = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        const size = lstatSync(p).size;
        const kind = /\.map$/.test(p) ? 'maps' : /\.d\.c?ts$/.test(p) ? 'types' : /\.c?js$/.test(p) ? 'code' : 'other';
        kinds[kind] += size;
        files.push([p.slice(dir.length + 1), size]);
      }
    }
  };
  walk(dir);
  return { ...kinds, files: files.sort((a, b) => b[1] - a[1]) };
}
