import { fileURLToPath } from 'node:url';
import { lastJsonLine, runFixture } from '../helpers/child.js';
import { describe, expect, it } from 'vitest';

const _ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../fixtures/fetch-wrapper-gc-child.ts', import.meta.url));

async function runChild(scenario: string): Promise<Record<string, any>> {
  const run = await runFixture(SCRIPT, [scenario], { timeout: 30_000, flags: ['--expose-gc'] });
  expect({ code: run.code, killed: run.killed }, `stderr: ${run.stderr}`).toEqual({ code: 0, killed: false });
  return lastJsonLine<Record<string, any>>(run);
}

describe('createFetch() wrappers', () => {
  it('30 wrappers with maxCacheEntries 5, 28 of them dropped and collected: the client holds at most 5 + 2 tokens, and the 2 kept wrappers keep theirs', async () => {
    const result = await runChild('revoke');
    expect(result.tokenRequests).toBe(30);
    // The harness works: the dropped wrappers really were garbage collected.
    expect(result.collected).toBe(28);
    // Referenced wrappers stay pinned: they still send their cached tokens (no new token request)...
    expect(result.liveAuthorizations).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(result.tokenRequestsForLive).toBe(0);
    expect(result.closeErrors).toEqual([]);
    // ...and close({ revoke: true }) revokes them.
    expect(result.revokedTokens).toEqual(expect.arrayContaining(['tok-1', 'tok-2']));
    // Today: 30 — every wrapper's entry is pinned forever, beyond maxCacheEntries.
    expect(result.revoked).toBeLessThanOrEqual(5 + 2);
    expect(result.revokedTokens.length).toBeLessThanOrEqual(5 + 2);
  }, 40_000);

  it('20,000 wrappers created and dropped: after garbage collection the heap has grown by less than 1 MB', async () => {
    const result = await runChild('heap');
    // The harness works: the sampled wrappers (1 in 200, warm-up included) were garbage collected.
    expect(result.collected).toBe(110);
    // Today: about 7 MB — a pinned entry per wrapper, never released.
    expect(result.growth).toBeLessThan(1_048_576);
  }, 40_000);
});
