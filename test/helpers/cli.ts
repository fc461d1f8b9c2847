/**
 * The `m2m-token` command as a user runs it: the built `dist/cli.cjs` (package.json `bin`) in a child
 * process. Children are spawned asynchronously (a synchronous spawn would block an embedded server of
 * the test process) and killed after {@link KILL_AFTER} ms.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli.cjs');
const KILL_AFTER = 15_000;
const BUILD_TIMEOUT = 180_000;
/** Several test files spawn the CLI: one builds at a time (the build empties dist first). */
const LOCK = join(ROOT, 'node_modules', '.cli-test-build.lock');

/** The newest modification time of the sources the CLI is built from. */
function newestSource(): number {
  const dir = join(ROOT, 'src');
  const times = readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => statSync(join(dir, name)).mtimeMs);
  return Math.max(...times, statSync(join(ROOT, 'package.json')).mtimeMs, statSync(join(ROOT, 'scripts', 'build.ts')).mtimeMs);
}

async function lock(): Promise<void> {
  const deadline = Date.now() + BUILD_TIMEOUT;
  while (Date.now() < deadline) {
    try {
      mkdirSync(LOCK);
      return;
    } catch {
      // A lock older than a build is left over from a killed run.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > BUILD_TIMEOUT) rmSync(LOCK, { recursive: true, force: true });
      await sleep(200);
    }
  }
  throw new Error('waited too long for another test file to build the CLI');
}

/** Builds `dist/cli.cjs` before the file's tests when it is older than the sources. */
export function useBuiltCli(): void {
  beforeAll(
    async () => {
      await lock();
      try {
        if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource()) return;
        await new Promise<void>((resolve, reject) => {
          execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: BUILD_TIMEOUT, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
            error ? reject(new Error(`npm run build failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
          );
        });
        expect(existsSync(CLI), 'npm run build did not produce dist/cli.cjs').toBe(true);
      } finally {
        rmSync(LOCK, { recursive: true, force: true });
      }
    },
    BUILD_TIMEOUT * 2 + 10_000,
  );
}

/** How a run of the command ended. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/cli.cjs ...args` with only PATH and `env` in its environment (no M2M_* from outside),
 * `stdin` written to its standard input (then closed).
 */
export function cli(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // the CLI may exit without reading its input
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`m2m-token ${args.join(' ')} still running after ${KILL_AFTER} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, KILL_AFTER);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A run as text, for assertion messages. */
export const transcript = (run: CliRun) => `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

/** A loopback port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
