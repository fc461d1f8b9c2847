/**
 * Generators shared by the fuzz suites (fast-check): hostile strings, prototype-pollution keys, JSON
 * text built by hand (so that `__proto__` and duplicate members reach `JSON.parse` as own keys), token
 * and error response bodies, and a check that `Object.prototype` came out of a run unchanged.
 */
import { expect } from 'vitest';
import fc from 'fast-check';

/** A client secret that is easy to grep for, with characters that form encoding and base64 change. */
export const FUZZ_SECRET = 'fz-S3CRET+/:%~must-never-leak-61c9';
export const FUZZ_CLIENT_ID = 'svc-fuzz';

/** The keys that pollute prototypes when assigned carelessly, and names that live on Object.prototype. */
export const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'CONSTRUCTOR',
  '__PROTO__',
] as const;

/** Fragments that break naive parsers, header handling and log lines. */
const HOSTILE_FRAGMENTS = [
  '\r\n',
  '\n',
  '\r',
  '\0',
  '\t',
  ' ',
  '"',
  "'",
  '\\',
  '\\"',
  ',',
  ';',
  '=',
  ':',
  '%',
  '+',
  '/',
  '{',
  '}',
  '[',
  ']',
  '\u2028',
  '\u2029',
  '\u202e',
  '\ufeff',
  '\u00a0',
  '\ud800',
  '\udfff',
  '😀',
  'é',
  '\x7f',
  '\x1b[31m',
  ...PROTO_KEYS,
] as const;

/** Strings mixing hostile fragments, arbitrary code points (lone surrogates included) and plain ASCII. */
export function hostileString(maxParts = 16): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_FRAGMENTS) },
        { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
        { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
      ),
      { maxLength: maxParts },
    )
    .map((parts) => parts.join(''));
}

/** A long string: one fragment repeated up to `maxLength` characters. */
export function hugeString(maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(fc.constantFrom('x', 'A', '\\', '"', '\u00e9', '%', ' ', '\n'), fc.string({ minLength: 1, maxLength: 4 })),
      fc.integer({ min: 1, max: maxLength }),
    )
    .map(([fragment, length]) => fragment.repeat(Math.ceil(length / fragment.length)).slice(0, length));
}

/** Object keys: prototype-pollution names, the members the client reads, and anything at all. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'access_token',
      'token_type',
      'expires_in',
      'scope',
      'error',
      'error_description',
      'error_uri',
      'refresh_token',
      'id_token',
      'issuer',
      'token_endpoint',
    ),
  },
  { weight: 2, arbitrary: hostileString(4) },
);

/** Numbers as JSON text, including ones `JSON.parse` turns into Infinity, -0 or denormals. */
const jsonNumber: fc.Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom(
    '1e999',
    '-1e999',
    '1e308',
    '1.7976931348623157e308',
    '1e300',
    '1e16',
    '8.64e12',
    '1e12',
    '999999999999',
    '-0',
    '0.0',
    '1e-400',
    '0.5',
    '3600',
    '-1',
    '4294967296',
    '9007199254740993',
  ),
);

/** A JSON string literal of a hostile string (`JSON.stringify` escapes what JSON must). */
export const jsonString: fc.Arbitrary<string> = fc.oneof(hostileString(), hugeString(4096)).map((s) => JSON.stringify(s));

/** Serialises members as a JSON object by hand, so that `__proto__` and duplicates reach the parser. */
export function objectText(entries: readonly (readonly [string, string])[]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/** Arbitrary JSON text (valid JSON), nested a little, with hostile keys as own members. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('null', 'true', 'false'),
    jsonNumber,
    jsonString,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 6 }).map(objectText),
})).value;

/** Anything as a body: JSON text, objects built by fast-check (null prototypes too), raw text. */
export const anyBody: fc.Arbitrary<string> = fc.oneof(
  jsonText,
  fc.object({ key: hostileKey, maxDepth: 2, stringUnit: 'binary' }).map((o) => JSON.stringify(o)),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 2 })).map((o) => JSON.stringify(o)),
  hostileString(),
  jsonText.map((t) => t.slice(0, Math.max(0, t.length - 1))), // truncated JSON
  fc.constantFrom('', ' ', 'null', '[]', '{}', '"text"', '0', 'true', '\ufeff{}', '{"access_token":"a"', '<html>oops</html>'),
);

/** A value of the right type for the member, or of any wrong type. */
function member(right: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: jsonText });
}

/** A valid RFC 6749 access token value (visible ASCII), as the server would send it. */
export const accessTokenValue = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 64,
});
/** An RFC 9110 token. */
export const tokenChars = fc.string({
  unit: fc.constantFrom(..."!#$%&'*+.^_`|~-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
  minLength: 1,
  maxLength: 16,
});

/** `token_type` values: known types in any case, prototype names, tokens, and junk. */
const tokenTypeText = fc
  .oneof(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'DPoP', 'dpop', 'N_A', 'mac', ...PROTO_KEYS), tokenChars, hostileString(4))
  .map((s) => JSON.stringify(s));

const expiresInText = fc.oneof(
  jsonNumber,
  fc.constantFrom('"3600"', '"0"', '"1.5"', '"999999999999"', '"1000000000000"', '"-1"', '" 60"', '"1e3"', '"0x10"', 'null'),
);

/**
 * Token response bodies of the right shape whose members may be missing, of the wrong type or hostile,
 * plus extra members with prototype-pollution keys, in any order (duplicates possible).
 */
export const tokenResponseBody: fc.Arbitrary<string> = fc
  .tuple(
    fc.option(
      member(
        fc.oneof({ weight: 3, arbitrary: accessTokenValue }, { weight: 1, arbitrary: hostileString(4) }).map((s) => JSON.stringify(s)),
      ),
    ),
    fc.option(member(tokenTypeText)),
    fc.option(member(expiresInText)),
    fc.option(member(jsonString)),
    fc.array(fc.tuple(hostileKey, jsonText), { maxLength: 4 }),
    fc.option(fc.constantFrom('"invalid_request"', '""', '5', 'null', '"__proto__"')),
  )
  .chain(([accessToken, tokenType, expiresIn, scope, extra, error]) => {
    const entries: [string, string][] = [];
    if (accessToken !== null) entries.push(['access_token', accessToken]);
    if (tokenType !== null) entries.push(['token_type', tokenType]);
    if (expiresIn !== null) entries.push(['expires_in', expiresIn]);
    if (scope !== null) entries.push(['scope', scope]);
    if (error !== null) entries.push(['error', error]);
    entries.push(...extra);
    return fc.shuffledSubarray(entries, { minLength: entries.length }).map(objectText);
  });

/** OAuth error bodies (RFC 6749 §5.2), some echoing `echo` (the client secret) in what the server controls. */
export function errorResponseBody(echo: readonly string[]): fc.Arbitrary<string> {
  const echoed = fc
    .constantFrom(...echo)
    .chain((s) => fc.tuple(hostileString(3), hostileString(3)).map(([before, after]) => JSON.stringify(`${before}${s}${after}`)));
  const text = fc.oneof(jsonString, echoed);
  return fc.oneof(
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom(
            '"invalid_client"',
            '"invalid_request"',
            '"invalid_scope"',
            '"unauthorized_client"',
            '"server_error"',
            '"temporarily_unavailable"',
          ),
          text,
          jsonText,
        ),
        fc.option(fc.oneof(text, jsonText)),
        fc.option(fc.oneof(text, jsonText)),
        fc.array(fc.tuple(hostileKey, jsonText), { maxLength: 3 }),
      )
      .map(([error, description, uri, extra]) => {
        const entries: [string, string][] = [['error', error]];
        if (description !== null) entries.push(['error_description', description]);
        if (uri !== null) entries.push(['error_uri', uri]);
        return objectText([...entries, ...extra]);
      }),
    anyBody,
  );
}

/** The own property descriptors of the builtin prototypes, to compare before and after a run. */
function prototypeState(): string {
  const describe = (target: object) =>
    Reflect.ownKeys(target)
      .map((key) => {
        const d = Object.getOwnPropertyDescriptor(target, key)!;
        return `${String(key)}:${typeof d.value}:${String(d.get)}:${String(d.set)}:${d.writable}:${d.enumerable}`;
      })
      .sort()
      .join('|');
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype].map(describe).join('\n');
}

/** Runs `fn` and fails when it changed Object.prototype (or Array/Function/String.prototype). */
export async function withoutPollution<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = prototypeState();
  const result = await fn();
  expect(prototypeState()).toBe(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  return result;
}

/** RFC 9110 token, as the tokenType of a valid token must be. */
export const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, as an access token must be. */
export const VISIBLE_ASCII_RE = /^[\x21-\x7e]+$/;

/** application/x-www-form-urlencoded encoding of one value (as in a Basic credential or a POST body). */
const formEncoded = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);

/**
 * Every form in which a client secret travels and could be echoed back: as is, form-encoded,
 * base64, and the Basic credential (with and without the scheme).
 */
export function secretForms(clientId: string, secret: string): string[] {
  const basic = Buffer.from(`${formEncoded(clientId)}:${formEncoded(secret)}`).toString('base64');
  return [secret, formEncoded(secret), Buffer.from(secret).toString('base64'), basic, `Basic ${basic}`];
}

/** Token responses that are valid (long-lived), with any token type and prototype-named extra members. */
export const wellFormedTokenBody: fc.Arbitrary<string> = fc
  .tuple(
    accessTokenValue,
    fc.option(
      fc.oneof(tokenChars, fc.constantFrom('Bearer', 'bearer', 'DPoP', 'constructor', '__proto__', 'CONSTRUCTOR', 'toString', 'prototype')),
    ),
    fc.oneof(
      fc.integer({ min: 60, max: 10_000_000 }).map(String),
      fc.integer({ min: 60, max: 10_000_000 }).map((n) => `"${n}"`),
      fc.constant('null'),
    ),
    fc.array(fc.tuple(fc.constantFrom(...PROTO_KEYS, 'issued_token_type', 'refresh_token'), jsonText), { maxLength: 3 }),
  )
  .map(([accessToken, tokenType, expiresIn, extra]) =>
    objectText([
      ['access_token', JSON.stringify(accessToken)],
      ...(tokenType === null ? [] : [['token_type', JSON.stringify(tokenType)] as [string, string]]),
      ['expires_in', expiresIn],
      ...extra,
    ]),
  );
