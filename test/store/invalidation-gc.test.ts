/**
 * Fleet-wide invalidation and garbage collection: a client dropped without close() is collected although
 * the store it shares holds a listener for it. In a child process with --expose-gc
 * (test/fixtures/invalidation-gc-child.ts).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lastJsonLine, runFixture } from '../helpers/child.js';

describe('a client dropped without close()', () => {
  it('is garbage-collected all the same: the store holds its entries weakly, and its listener goes with it', async () => {
    const script = fileURLToPath(new URL('../fixtures/invalidation-gc-child.ts', import.meta.url));
    const run = await runFixture(script, [], { timeout: 30_000, flags: ['--expose-gc'] });
    expect({ code: run.code, killed: run.killed }, `stderr: ${run.stderr}`).toEqual({ code: 0, killed: false });
    const result = lastJsonLine<Record<string, unknown>>(run);

    expect(result.collected).toBe(20);
    expect(result.listenersBefore).toBe(21);
    expect(result.listenersCollected).toBe(1); // the kept client's: no message needed
    expect(result.listenersAfter).toBe(1); // the kept client's
    expect(result.listenersAfterClose).toBe(0);
    expect(result.keptNext).not.toBe(result.keptToken);
  }, 40_000);
});
