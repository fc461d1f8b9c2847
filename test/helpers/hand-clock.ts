/**
 * A monotonic clock a test moves by hand, for the client's `Clock`: its timers run as `advance` passes
 * them, in the order of their instants, as Node's timers do on the real clock. `wall` maps a reading of
 * it to epoch ms (the real `Date.now()` unless given).
 */
export function handClock(wall: (now: number) => number = () => Date.now()) {
  let now = 0;
  const timers = new Set<{ readonly at: number; readonly run: () => void }>();
  return {
    now: () => now,
    wall: () => wall(now),
    after(ms: number, run: () => void): (() => void) | undefined {
      const timer = { at: now + ms, run };
      timers.add(timer);
      return () => {
        timers.delete(timer);
      };
    },
    /** Nothing fakes a hand clock: its timers always follow it. */
    steady: (): boolean => true,
    /** Moves the clock `ms` forward, running each timer it reaches at its instant. */
    advance(ms: number) {
      const to = now + ms;
      for (let ran = 0; ; ran++) {
        if (ran > 10_000) throw new Error('hand clock: timers keep scheduling timers');
        let next: { readonly at: number; readonly run: () => void } | undefined;
        for (const timer of timers) if (timer.at <= to && (next === undefined || timer.at < next.at)) next = timer;
        if (next === undefined) break;
        timers.delete(next);
        now = Math.max(now, next.at);
        next.run();
      }
      now = to;
    },
    /** How many timers wait. */
    get timers() {
      return timers.size;
    },
  };
}
