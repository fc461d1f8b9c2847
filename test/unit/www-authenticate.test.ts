import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '../../src/protocol/www-authenticate.js';

/** Challenges as plain objects, for readable comparisons. */
const parse = (header: string | null) =>
  parseWwwAuthenticate(header).map((c) => ({ scheme: c.scheme, params: Object.fromEntries(c.params) }));

describe('parseWwwAuthenticate', () => {
  it('returns no challenges for a missing or empty header', () => {
    expect(parse(null)).toEqual([]);
    expect(parse('')).toEqual([]);
    expect(parse('  ,  , ')).toEqual([]);
  });

  it('parses a bare scheme', () => {
    expect(parse('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
  });

  it('parses an RFC 6750 Bearer challenge with several parameters', () => {
    expect(parse('Bearer realm="example", error="invalid_token", error_description="The access token expired"')).toEqual([
      { scheme: 'bearer', params: { realm: 'example', error: 'invalid_token', error_description: 'The access token expired' } },
    ]);
  });

  it('parses parameters given as tokens rather than quoted strings, with spaces around "="', () => {
    expect(parse('Bearer error=invalid_token, scope = "a b"')).toEqual([
      { scheme: 'bearer', params: { error: 'invalid_token', scope: 'a b' } },
    ]);
  });

  it('splits several challenges and gives each its own parameters', () => {
    expect(parse('Basic realm="simple", Bearer realm="api", error="invalid_token", Newauth realm="apps", type=1')).toEqual([
      { scheme: 'basic', params: { realm: 'simple' } },
      { scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } },
      { scheme: 'newauth', params: { realm: 'apps', type: '1' } },
    ]);
  });

  it('keeps commas and escaped quotes inside quoted strings and unescapes them', () => {
    expect(parse('Bearer realm="a, \\"quoted\\" realm", error="invalid_token", error_description="x\\\\y, z"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a, "quoted" realm', error: 'invalid_token', error_description: 'x\\y, z' } },
    ]);
  });

  it('does not mistake a scheme-like word inside a quoted string for a new challenge', () => {
    expect(parse('Bearer error_description="try Basic, Bearer error=\\"invalid_token\\"", error="invalid_request"')).toEqual([
      { scheme: 'bearer', params: { error_description: 'try Basic, Bearer error="invalid_token"', error: 'invalid_request' } },
    ]);
  });

  it('accepts a token68 credential without taking it for a parameter', () => {
    expect(parse('Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXegDTAL==, Bearer error="invalid_token"')).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { error: 'invalid_token' } },
    ]);
    expect(parse('Custom abc.def-ghi~123/+')).toEqual([{ scheme: 'custom', params: {} }]);
  });

  it('lower-cases scheme and parameter names but keeps parameter values as sent', () => {
    expect(parse('BEARER Realm="Api", ERROR="Invalid_Token"')).toEqual([
      { scheme: 'bearer', params: { realm: 'Api', error: 'Invalid_Token' } },
    ]);
  });

  it('skips malformed pieces without throwing', () => {
    const malformed = [
      '=',
      '"',
      '"unterminated',
      'Bearer error="unterminated',
      'Bearer error="invalid_token" junk junk',
      ',,,Bearer,,,',
      'error="orphan parameter"',
      'Bearer realm=',
      'Bearer realm="a"b", error="x"',
      '\\',
      'Bearer \u0000\u0001',
      'Bearer realm="\\',
      '(){}<>@:;',
    ];
    for (const header of malformed) {
      expect(() => parseWwwAuthenticate(header)).not.toThrow();
    }
    expect(parse('error="orphan parameter"')).toEqual([]);
    expect(parse(',,,Bearer,,,')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parse('Bearer error="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
    // A broken parameter is dropped; the intact ones around it are kept.
    expect(parse('Bearer realm=, error="invalid_token"')).toEqual([{ scheme: 'bearer', params: { error: 'invalid_token' } }]);
  });

  it('yields no challenges for a header longer than 8 KiB, and parses one of exactly 8 KiB', () => {
    const prefix = 'Bearer error="invalid_token", realm="';
    const exact = `${prefix}${'a'.repeat(8192 - prefix.length - 1)}"`;
    expect(exact).toHaveLength(8192);
    expect(parse(exact)).toMatchObject([{ scheme: 'bearer', params: { error: 'invalid_token' } }]);
    expect(parseWwwAuthenticate(`${exact} `)).toEqual([]);
    expect(parseWwwAuthenticate(`Bearer error="invalid_token", x="${'a'.repeat(100_000)}"`)).toEqual([]);
  });

  it('returns for adversarial input of the maximum length (no catastrophic backtracking)', () => {
    const inputs = [
      `Bearer ${'a='.repeat(4090)}`,
      `Bearer x="${'\\"'.repeat(4090)}`,
      `${'a '.repeat(4095)}`,
      `Bearer ${'a'.repeat(8000)} =`,
      `${'!'.repeat(8190)}=`,
    ];
    for (const header of inputs) {
      expect(header.length).toBeLessThanOrEqual(8192);
      expect(Array.isArray(parseWwwAuthenticate(header))).toBe(true);
    }
  });
});
