/**
 * The process's clock (`systemClock`): its timers, which the token entries' fresh window runs on, and
 * how it behaves while a test fakes the clock or the timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/util/clock.js';
import { sleep, waitUntil } from '../helpers/time.js';

/** Node's timers that keep the process alive. */
const refTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('systemClock.after', () => {
  it('runs after the delay, not once cancelled, and never keeps the process alive', async () => {
    const ran: string[] = [];
    const before = refTimers();
    const cancel = systemClock.after(1, () => ran.push('cancelled'));
    systemClock.after(1.9, () => ran.push('ran'));
    const long = systemClock.after(3_600_000, () => ran.push('long'));
    expect(refTimers()).toBe(before);
    cancel!();
    await waitUntil(() => ran.length > 0, { what: 'the timer' });
    await sleep(20);
    expect(ran).toEqual(['ran']);
    long!();
  });

  it('runs on real time while a test fakes the timers (they do not move the clock it follows)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    let ran = false;
    const done = new Promise<void>((resolve) => {
      systemClock.after(1, () => {
        ran = true;
        resolve();
      });
    });
    vi.advanceTimersByTime(3_600_000);
    expect(ran).toBe(false);
    await done; // on real time: a millisecond
    expect(ran).toBe(true);
  });

  it('declines while a test fakes performance, or spies on performance.now', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(systemClock.after(1_000, () => {})).toBeUndefined();
    vi.useRealTimers();
    vi.spyOn(performance, 'now');
    expect(systemClock.after(1_000, () => {})).toBeUndefined();
    vi.restoreAllMocks();
    const cancel = systemClock.after(1_000, () => {});
    expect(cancel).toBeTypeOf('function');
    cancel!();
  });

  it('declines where AbortSignal.timeout is missing (another runtime\'s globals, such as jsdom\'s)', () => {
    const { timeout } = AbortSignal;
    try {
      Object.defineProperty(AbortSignal, 'timeout', { value: undefined, configurable: true, writable: true });
      expect(systemClock.after(1_000, () => {})).toBeUndefined();
    } finally {
      Object.defineProperty(AbortSignal, 'timeout', { value: timeout, configurable: true, writable: true });
    }
  });
});

describe('systemClock.steady', () => {
  it('is false while a test fakes performance after a timer started, and true again once it stops', () => {
    systemClock.after(1_000, () => {})!();
    expect(systemClock.steady()).toBe(true);
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(systemClock.steady()).toBe(false);
    vi.useRealTimers();
    expect(systemClock.steady()).toBe(true);
    vi.spyOn(performance, 'now');
    expect(systemClock.steady()).toBe(false);
  });
});
