/**
 * A TypeScript fixture run in a child process (`node [flags] --import tsx <script> …args`), killed
 * after `timeout` ms: for what needs a process of its own (a stepped clock, garbage collection, exit).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How a child run ended, with everything it printed. */
export interface ChildRun {
  readonly code: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `script` (a path) with `args` and Node `flags`; resolves when it exits or is killed. */
export function runFixture(
  script: string,
  args: readonly string[],
  { timeout = 15_000, flags = [] as readonly string[] } = {},
): Promise<ChildRun> {
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => {
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, killed: true, stdout, stderr });
    }, timeout);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, killed: false, stdout, stderr });
    });
  });
}

/** The last line a fixture printed, as JSON (its report). */
export function lastJsonLine<T>(run: ChildRun): T {
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
}
