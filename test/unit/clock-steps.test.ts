/**
 * Wall-clock steps (NTP corrections, an operator setting the time) must not change how long a token
 * is used, how long the invalid_client backoff lasts, or whether a fresh token is accepted: those
 * durations run on monotonic time. Each scenario runs in a child process (test/fixtures/clock-step-child.ts)
 * whose `Date.now` is stepped while `performance.now()` is not; the child is killed after 15 s.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../fixtures/clock-step-child.ts', import.meta.url));

interface Outcome {
  readonly token?: string;
  readonly error?: string;
  readonly message?: string;
}
interface Result {
  readonly scenario: string;
  readonly first: Outcome;
  readonly after: Outcome;
  readonly calls: number;
}

async function runScenario(scenario: string): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, scenario], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exit = await new Promise<{ code: number | null; killed: boolean }>((resolve) => {
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, killed: true });
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, killed: false });
    });
  });
  expect(exit, `stderr: ${stderr}`).toEqual({ code: 0, killed: false });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Result;
}

describe('a wall clock stepped', () => {
  it('1 h back: a cached 3 s token is no longer handed out once 3 s of real time have passed; a new one is requested', async () => {
    const result = await runScenario('back-cached');
    expect(result.first).toEqual({ token: 'tok-1' });
    // Today: { token: 'tok-1' } with 1 call — the stepped-back clock makes the expired token look fresh.
    expect(result.after).toEqual({ token: 'tok-2' });
    expect(result.calls).toBe(2);
  }, 25_000);

  it('1 h back after invalid_client: the backoff (invalidClientBackoff 300 ms) still ends after 300 ms of real time', async () => {
    const result = await runScenario('back-invalid-client');
    expect(result.first.error).toBe('OAUTH_ERROR');
    // Today: OAUTH_ERROR invalid_client again without asking the server — the backoff lasts an hour.
    expect(result.after).toEqual({ token: 'tok-2' });
    expect(result.calls).toBe(2);
  }, 25_000);

  it('1 h forward while a token request is in flight: the fresh token (expires_in 300) is accepted and cached', async () => {
    const result = await runScenario('forward-in-flight');
    // Today: INVALID_RESPONSE "token for clock expired before it could be used".
    expect(result.first).toEqual({ token: 'tok-1' });
    expect(result.after).toEqual({ token: 'tok-1' });
    expect(result.calls).toBe(1);
  }, 25_000);
});
