/** Waiters: caller abort, close, keep-alive, one listener per signal. */
import { describe, expect, it, vi } from 'vitest';
import { Waiters } from '../../src/cache/waiting.js';
import { rejectionOf } from '../helpers/core.js';

describe('Waiters', () => {
  it('resolves with the promise, and lets the process go once nobody waits', async () => {
    const waiters = new Waiters();
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    const clearInterval = vi.spyOn(globalThis, 'clearInterval');
    let resolve!: (v: string) => void;
    const shared = new Promise<string>((r) => (resolve = r));
    const both = [waiters.wait(shared, undefined), waiters.wait(shared, undefined)];
    expect(waiters.size).toBe(2);
    expect(setInterval).toHaveBeenCalledTimes(1);
    resolve('ok');
    expect(await Promise.all(both)).toEqual(['ok', 'ok']);
    expect(waiters.size).toBe(0);
    expect(clearInterval).toHaveBeenCalledTimes(1);
  });

  it("ends only the aborted caller's wait, adding one listener to a shared signal", async () => {
    const waiters = new Waiters();
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const never = new Promise<string>(() => {});
    const mine = [1, 2, 3].map(() => waiters.wait(never, controller.signal));
    const other = waiters.wait(never, undefined);
    expect(add).toHaveBeenCalledTimes(1);
    controller.abort();
    for (const w of mine) expect((await rejectionOf(w)).code).toBe('ABORTED');
    expect(waiters.size).toBe(1);
    waiters.closeAll(new Error('closed'));
    expect((await rejectionOf(other)).message).toBe('closed');
    expect(waiters.size).toBe(0);
  });

  it('removes its listener from a signal once no caller waits on it', async () => {
    const waiters = new Waiters();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await waiters.wait(Promise.resolve(1), controller.signal);
    expect(remove).toHaveBeenCalledTimes(1);
  });
});
