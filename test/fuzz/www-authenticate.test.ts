/**
 * Fuzzing of the `WWW-Authenticate` parser (RFC 9110 §11.6.1): it never throws, always returns
 * well-formed challenges, round-trips what a correct server sends, and stays linear on adversarial
 * 8 KiB input (a backtracking regular expression would take seconds there).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '../../src/protocol/www-authenticate.js';
import { PROTO_KEYS, hostileString, tokenChars, withoutPollution } from './arbitraries.js';

const MAX_LENGTH = 8192;
/** Generous: a linear parse of 8 KiB takes well under a millisecond; catastrophic backtracking takes seconds. */
const HANG_BUDGET_MS = 200;
const LOWER_TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Parses and checks the shape of the result and the time it took. */
function parseChecked(header: string | null) {
  const started = performance.now();
  const challenges = parseWwwAuthenticate(header);
  const elapsed = performance.now() - started;
  expect(elapsed, `parse of ${header?.length} chars took ${elapsed.toFixed(1)} ms`).toBeLessThan(HANG_BUDGET_MS);
  expect(Array.isArray(challenges)).toBe(true);
  for (const challenge of challenges) {
    expect(challenge.scheme).toMatch(LOWER_TOKEN);
    expect(challenge.params).toBeInstanceOf(Map);
    for (const [name, value] of challenge.params) {
      expect(name).toMatch(LOWER_TOKEN);
      expect(typeof value).toBe('string');
    }
  }
  return challenges;
}

/** Characters and pieces that stress the quoted-string, parameter and scheme expressions. */
const FRAGMENTS = [
  'a',
  'A',
  '=',
  '"',
  '\\',
  '\\"',
  ',',
  ' ',
  '\t',
  '\r\n',
  '\n',
  'a=',
  '="',
  'a="',
  'Bearer ',
  'x=y, ',
  '""',
  '\\\\',
  '=,',
  ' =',
  '!',
  '\u00e9',
  '\u2028',
  '\0',
];

/** A short pattern of fragments repeated to fill exactly `length` characters. */
const adversarial = (length: number) => {
  const pieces = (max: number) => fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: max }).map((p) => p.join(''));
  const known = ['Bearer a="', 'a="', 'Bearer ', 'a', 'a ', 'a=', ''].map((prefix) => ({ prefix, unit: '\\', suffix: '' }));
  return fc
    .oneof(
      fc.record({ prefix: pieces(3), unit: pieces(5).filter((u) => u !== ''), suffix: fc.oneof(pieces(2), fc.string({ maxLength: 3 })) }),
      fc.constantFrom(
        ...known,
        { prefix: 'Bearer ', unit: 'a', suffix: ' =' },
        { prefix: 'Bearer x=', unit: ' ', suffix: '!' },
        { prefix: '"', unit: '\\"', suffix: '' },
      ),
    )
    .map(({ prefix, unit, suffix }) => {
      const body = unit.repeat(Math.ceil(length / unit.length));
      return (prefix + body).slice(0, length - suffix.length) + suffix;
    });
};

/** A parameter value: a token, or a quoted-string with anything inside (quotes and backslashes escaped). */
const paramValue = fc.oneof(
  tokenChars.map((v) => ({ value: v, wire: v })),
  fc
    .oneof(hostileString(6), fc.string({ unit: 'binary', maxLength: 12 }))
    .map((v) => ({ value: v, wire: `"${v.replace(/["\\]/g, '\\$&')}"` })),
);
const ows = fc.constantFrom('', ' ', '\t', '  ');
const paramName = fc.oneof(
  tokenChars,
  fc.constantFrom(...PROTO_KEYS.filter((k) => /^[\w-]+$/.test(k)), 'realm', 'error', 'error_description', 'scope', 'Error'),
);
const challenge = fc.record({
  scheme: fc.oneof(tokenChars, fc.constantFrom('Bearer', 'DPoP', 'Basic', 'constructor', '__proto__')),
  params: fc.array(fc.record({ name: paramName, value: paramValue, before: ows, after: ows }), { maxLength: 4 }),
});

describe('parseWwwAuthenticate (fuzzed)', () => {
  it('never throws on any string and returns lower-cased schemes with Map params', async () => {
    await withoutPollution(() =>
      fc.assert(
        fc.property(fc.oneof(hostileString(40), fc.string({ unit: 'binary', maxLength: 200 }), fc.constant(null)), (header) => {
          parseChecked(header);
        }),
        { numRuns: 500 },
      ),
    );
  });

  it('stays linear on adversarial headers of exactly 8 KiB, and ignores longer ones', () => {
    fc.assert(
      fc.property(adversarial(MAX_LENGTH), (header) => {
        expect(header.length).toBe(MAX_LENGTH);
        parseChecked(header);
        expect(parseChecked(`${header}x`)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips well-formed challenges: schemes and names lower-cased, values unquoted, the last duplicate wins', async () => {
    await withoutPollution(() =>
      fc.assert(
        fc.property(fc.array(challenge, { minLength: 1, maxLength: 4 }), fc.constantFrom(', ', ',', ' , ', ',\t'), (challenges, comma) => {
          const header = challenges
            .map(({ scheme, params }) => {
              const rendered = params.map(({ name, value, before, after }) => `${name}${before}=${after}${value.wire}`);
              return rendered.length === 0 ? scheme : `${scheme} ${rendered.join(comma)}`;
            })
            .join(comma);
          fc.pre(header.length <= MAX_LENGTH);
          const parsed = parseChecked(header);
          expect(parsed.map((c) => c.scheme)).toEqual(challenges.map((c) => c.scheme.toLowerCase()));
          parsed.forEach((c, i) => {
            const expected = new Map<string, string>();
            for (const { name, value } of challenges[i]!.params) expected.set(name.toLowerCase(), value.value);
            expect(c.params).toEqual(expected);
          });
        }),
        { numRuns: 400 },
      ),
    );
  });

  it('finds the Bearer error among hostile neighbours', () => {
    fc.assert(
      fc.property(hostileString(10), hostileString(10), (before, after) => {
        const header = `Bearer realm="api", error="invalid_token", error_description="expired"`;
        const parsed = parseChecked(`${before.replace(/[",\\]/g, '')}, ${header}, ${after.replace(/error|realm/gi, '')}`);
        // Whatever the neighbours are, the well-formed challenge is recognised (when its scheme starts a part).
        const bearer = parsed.find((c) => c.scheme === 'bearer' && c.params.get('realm') === 'api');
        expect(bearer?.params.get('error')).toBe('invalid_token');
      }),
      { numRuns: 300 },
    );
  });
});
