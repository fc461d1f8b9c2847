/**
 * `createFetch()` wrappers and the cache. A wrapper pins its cache entry while it is referenced: its
 * token is neither evicted by `maxCacheEntries` nor forgotten, and `revoke()` / `close({ revoke: true })`
 * revoke it. Once the wrapper is unreferenced and garbage collected, its entry is released (the client
 * holds it weakly, e.g. a WeakRef plus a FinalizationRegistry): it then counts against `maxCacheEntries`
 * like any other entry, or is dropped. So wrappers made per request or per tenant cannot grow the
 * client without bound.
 *
 * Garbage collection is forced in a child process run with `--expose-gc`
 * (test/fixtures/fetch-wrapper-gc-child.ts); each child is killed after 30 s.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../fixtures/fetch-wrapper-gc-child.ts', import.meta.url));

async function runChild(scenario: string): Promise<Record<string, any>> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SCRIPT, scenario], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exit = await new Promise<{ code: number | null; killed: boolean }>((resolve) => {
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, killed: true });
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, killed: false });
    });
  });
  expect(exit, `stderr: ${stderr}`).toEqual({ code: 0, killed: false });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
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
