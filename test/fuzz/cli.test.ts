/**
 * The CLI's command lookup against names that live on Object.prototype and random names: each is an
 * unknown command (exit 2, usage on stderr), never a silent success or an internal TypeError. Runs the
 * TypeScript source (`node --import tsx src/cli.ts`) in a child process, without network or M2M_* variables.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMANDS = new Set(['token', 'revoke', 'discover', 'inspect', 'help', '--help', '-h']);

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const expectUnknown = (name: string, run: { code: number | null; stdout: string; stderr: string }) => {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toContain(`unknown command "${name}"`);
  expect(run.stdout).toBe('');
};

describe('m2m-token <command> (hostile names)', () => {
  // Each child costs a Node start-up (and tsx): a few names cover both failure modes seen before the fix
  // (`constructor`, `toString`: silent exit 0; `__proto__`, `hasOwnProperty`: an internal TypeError) plus a random one.
  it('treats Object.prototype names and a random name as unknown commands (exit 2), never running them', async () => {
    const random = fc.sample(
      fc
        .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 })
        .filter((s) => !COMMANDS.has(s)),
      1,
    );
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', ...random];
    const runs = await Promise.all(names.map((name) => cli([name])));
    runs.forEach((run, i) => expectUnknown(names[i]!, run));
  });
});
