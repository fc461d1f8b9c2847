/**
 * The process's clock (`systemClock`): the probe that must see one of its timers run on
 * `performance.now()` before any is trusted, its timers, and how it behaves while a test fakes the clock
 * or the timers. Each test loads the module anew: the probe runs once per module instance.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/util/clock.js';
import { sleep, waitUntil } from '../helpers/time.js';

/** A system clock of a fresh module instance (no probe run yet). */
async function freshClock(): Promise<Clock> {
  vi.resetModules();
  return (await import('../../src/util/clock.js')).systemClock;
}

/** A system clock whose probe has passed. */
async function steadyClock(): Promise<Clock> {
  const clock = await freshClock();
  await waitUntil(() => clock.steady(), { what: 'the probe' });
  return clock;
}

/** `AbortSignal.timeout` itself, for stand-ins of it. */
const realTimeout = AbortSignal.timeout.bind(AbortSignal);

/** Node's timers that keep the process alive. */
const refTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('systemClock: the probe', () => {
  it('is not steady, and starts no timer, until one of its timers was seen to run on performance.now()', async () => {
    const clock = await freshClock();
    expect(clock.after(1_000, () => {})).toBeUndefined();
    expect(clock.steady()).toBe(false); // starts the probe
    expect(clock.after(1_000, () => {})).toBeUndefined();
    await waitUntil(() => clock.steady(), { what: 'the probe' });
    const cancel = clock.after(1_000, () => {});
    expect(cancel).toBeTypeOf('function');
    cancel!();
  });

  it("stays unsteady for good when its timer runs early: fake timers took Node's over", async () => {
    const clock = await freshClock();
    vi.spyOn(AbortSignal, 'timeout').mockImplementation(() => {
      const controller = new AbortController();
      setImmediate(() => controller.abort()); // as a test that moves fake time at once
      return controller.signal;
    });
    expect(clock.steady()).toBe(false);
    vi.restoreAllMocks();
    await sleep(30);
    expect(clock.steady()).toBe(false);
    await sleep(30);
    expect(clock.steady()).toBe(false);
  });

  it('counts a timer that runs late: a busy event loop runs its timers late', async () => {
    const clock = await freshClock();
    vi.spyOn(AbortSignal, 'timeout').mockImplementation(() => realTimeout(40));
    expect(clock.steady()).toBe(false);
    vi.restoreAllMocks();
    await waitUntil(() => clock.steady(), { what: 'the probe' });
  });

  it("measures on Node's clock: fakes installed while it runs do not spoil it", async () => {
    const clock = await freshClock();
    expect(clock.steady()).toBe(false); // starts the probe
    vi.useFakeTimers({ toFake: ['performance', 'Date'] });
    await sleep(30);
    expect(clock.steady()).toBe(false); // faked now
    vi.useRealTimers();
    expect(clock.steady()).toBe(true);
  });

  it('is not started while performance is faked, nor where AbortSignal.timeout is missing; it is once they are not', async () => {
    const clock = await freshClock();
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(clock.steady()).toBe(false);
    vi.useRealTimers();
    const { timeout } = AbortSignal;
    try {
      Object.defineProperty(AbortSignal, 'timeout', { value: undefined, configurable: true, writable: true });
      expect(clock.steady()).toBe(false);
    } finally {
      Object.defineProperty(AbortSignal, 'timeout', { value: timeout, configurable: true, writable: true });
    }
    await sleep(30);
    expect(clock.steady()).toBe(false); // starts it now
    await waitUntil(() => clock.steady(), { what: 'the probe' });
  });
});

describe('systemClock.after, once steady', () => {
  it('runs after the delay, not once cancelled, and never keeps the process alive', async () => {
    const clock = await steadyClock();
    const ran: string[] = [];
    const before = refTimers();
    const cancel = clock.after(1, () => ran.push('cancelled'));
    clock.after(1.9, () => ran.push('ran'));
    const long = clock.after(3_600_000, () => ran.push('long'));
    expect(refTimers()).toBe(before);
    cancel!();
    await waitUntil(() => ran.length > 0, { what: 'the timer' });
    await sleep(20);
    expect(ran).toEqual(['ran']);
    long!();
  });

  it('runs on real time while a test fakes the timers (they do not move the clock it follows)', async () => {
    const clock = await steadyClock();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    let ran = false;
    const done = new Promise<void>((resolve) => {
      clock.after(1, () => {
        ran = true;
        resolve();
      });
    });
    vi.advanceTimersByTime(3_600_000);
    expect(ran).toBe(false);
    await done; // on real time: a millisecond
    expect(ran).toBe(true);
  });

  it('is not steady while a test fakes the timers (they replace Date), and again once it stops', async () => {
    const clock = await steadyClock();
    vi.useFakeTimers();
    expect(clock.steady()).toBe(false);
    vi.useRealTimers();
    expect(clock.steady()).toBe(true);
    vi.useFakeTimers({ toFake: ['Date'] });
    expect(clock.steady()).toBe(false);
  });

  it("starts no timer while performance.now is not Node's: faked alone, or spied on", async () => {
    const clock = await steadyClock();
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(clock.after(1_000, () => {})).toBeUndefined();
    vi.useRealTimers();
    vi.spyOn(performance, 'now');
    expect(clock.after(1_000, () => {})).toBeUndefined();
    vi.restoreAllMocks();
    const cancel = clock.after(1_000, () => {});
    expect(cancel).toBeTypeOf('function');
    cancel!();
  });
});
