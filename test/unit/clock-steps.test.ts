import { fileURLToPath } from 'node:url';
import { lastJsonLine, runFixture } from '../helpers/child.js';
import { describe, expect, it } from 'vitest';

const _ROOT = fileURLToPath(new URL('../..', import.meta.url));
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
  const run = await runFixture(SCRIPT, [scenario], { timeout: 15_000 });
  expect({ code: run.code, killed: run.killed }, `stderr: ${run.stderr}`).toEqual({ code: 0, killed: false });
  return lastJsonLine<Result>(run);
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
