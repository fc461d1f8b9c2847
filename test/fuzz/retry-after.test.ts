/**
 * Fuzzing of `Retry-After` parsing (RFC 9110 §10.2.3): whatever the header says, the result is
 * `undefined` or a finite, non-negative delay in ms — never NaN, negative or Infinity — and exact for
 * the two valid forms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/protocol/retry.js';
import { hostileString } from './arbitraries.js';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun', 'mon', 'Xyz'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec', 'jan', 'Foo'];
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Strings in the shape of an IMF-fixdate, with any numbers in it (day 99, hour 25, year 0000 …). */
const dateShaped = fc
  .record({
    day: fc.constantFrom(...DAYS),
    date: fc.integer({ min: 0, max: 99 }),
    month: fc.constantFrom(...MONTHS),
    year: fc.integer({ min: 0, max: 9999 }),
    h: fc.integer({ min: 0, max: 99 }),
    m: fc.integer({ min: 0, max: 99 }),
    s: fc.integer({ min: 0, max: 99 }),
  })
  .map(
    ({ day, date, month, year, h, m, s }) => `${day}, ${pad(date, 2)} ${month} ${pad(year, 4)} ${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)} GMT`,
  );

const whitespace = fc.constantFrom('', ' ', '\t', '  ', '\n', '\r\n', '\u00a0', '\ufeff');
const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 24 });

const anyValue = fc.oneof(
  digits,
  fc.tuple(whitespace, digits, whitespace).map((parts) => parts.join('')),
  dateShaped,
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.constantFrom('-1', '+5', '1.5', '1e3', '0x10', 'Infinity', 'NaN', '', ' ', '9999999999', '99999999999', '0000000000', '١٢', '５'),
  hostileString(8),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
// Any `now` the clock could show, past and future.
const now = fc.integer({ min: 0, max: 8.64e15 });

describe('parseRetryAfter (fuzzed)', () => {
  it('returns undefined or a finite non-negative number for any value', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, fc.constant(null)), now, (value, at) => {
        const delay = parseRetryAfter(value, at);
        if (delay !== undefined) {
          expect(typeof delay).toBe('number');
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reads delay-seconds of up to 10 digits exactly, and refuses longer or signed ones', () => {
    fc.assert(
      fc.property(digits, fc.constantFrom('', ' ', '\t'), fc.constantFrom('', '-', '+'), now, (d, space, sign, at) => {
        const delay = parseRetryAfter(`${space}${sign}${d}${space}`, at);
        if (sign === '' && d.length <= 10) expect(delay).toBe(Number(d) * 1000);
        else expect(delay).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('reads an HTTP date as the time from now until it (whole seconds), 0 once it has passed', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        now,
        (date, at) => {
          const value = date.toUTCString();
          const seconds = Math.floor(date.getTime() / 1000) * 1000;
          expect(parseRetryAfter(value, at)).toBe(Math.max(0, seconds - at));
        },
      ),
      { numRuns: 300 },
    );
  });
});
