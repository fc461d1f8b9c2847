/**
 * Fuzzing of authorization server metadata discovery (RFC 8414) as a pure function with an injected
 * `get`: whatever the two metadata locations answer, `discover` yields metadata for exactly the
 * configured issuer or rejects with a `TokenError` (`INVALID_RESPONSE`, or `OAUTH_ERROR` for an OAuth
 * error body on a non-2xx), asks only the two RFC 8414 / OpenID locations, and pollutes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { discover, metadataUrls } from '../../src/protocol/discovery.js';
import type { HttpResult } from '../../src/protocol/http.js';
import {
  FUZZ_SECRET,
  anyBody,
  errorResponseBody,
  hostileKey,
  hostileString,
  jsonString,
  jsonText,
  objectText,
  withoutPollution,
} from './arbitraries.js';

const ISSUERS = [
  'https://auth.example.com',
  'https://auth.example.com/',
  'https://auth.example.com/tenant/a',
  'https://auth.example.com/tenant/a/',
  'https://auth.example.com:8443/realms/x%20y',
  'http://127.0.0.1:8080/realms/test',
];

const variantsOf = (issuer: string) => [
  issuer,
  issuer.endsWith('/') ? issuer.slice(0, -1) : `${issuer}/`,
  issuer.toUpperCase(),
  `${issuer}${FUZZ_SECRET}`,
  issuer.replace('https:', 'http:'),
  `${issuer} `,
  `${issuer}//`,
];

const url = fc
  .oneof(
    fc.constantFrom(
      'https://auth.example.com/oauth2/token',
      'http://auth.example.com/token',
      'http://127.0.0.1/token',
      'javascript:alert(1)',
      '',
      '/relative',
      'https://user:pw@auth.example.com/t',
    ),
    fc.webUrl(),
    hostileString(4),
  )
  .map((s) => JSON.stringify(s));

/** A member with the right type most of the time, any JSON otherwise. */
const member = (right: fc.Arbitrary<string>) => fc.oneof({ weight: 9, arbitrary: right }, { weight: 1, arbitrary: jsonText });

/** Metadata documents for `issuer`: right or wrong issuer, endpoints of any kind, prototype keys in objects. */
function metadataBody(issuer: string): fc.Arbitrary<string> {
  const aliases = fc
    .array(fc.tuple(hostileKey, fc.oneof({ weight: 9, arbitrary: url }, { weight: 1, arbitrary: jsonText })), { maxLength: 4 })
    .map(objectText);
  return fc
    .tuple(
      fc.option(
        member(
          fc.oneof(
            { weight: 6, arbitrary: fc.constant(JSON.stringify(issuer)) },
            { weight: 3, arbitrary: fc.constantFrom(...variantsOf(issuer)).map((s) => JSON.stringify(s)) },
            { weight: 1, arbitrary: jsonString },
          ),
        ),
        { freq: 10 },
      ),
      fc.option(member(url)),
      fc.option(member(url)),
      fc.option(
        member(
          fc
            .array(fc.constantFrom('"client_secret_basic"', '"private_key_jwt"', '5', 'null'), { maxLength: 3 })
            .map((a) => `[${a.join(',')}]`),
        ),
      ),
      fc.option(member(aliases)),
      fc.array(fc.tuple(hostileKey, jsonText), { maxLength: 3 }),
    )
    .chain(([iss, token, revocation, methods, mtls, extra]) => {
      const entries: [string, string][] = [];
      if (iss !== null) entries.push(['issuer', iss]);
      if (token !== null) entries.push(['token_endpoint', token]);
      if (revocation !== null) entries.push(['revocation_endpoint', revocation]);
      if (methods !== null) entries.push(['token_endpoint_auth_methods_supported', methods]);
      if (mtls !== null) entries.push(['mtls_endpoint_aliases', mtls]);
      entries.push(...extra);
      return fc.shuffledSubarray(entries, { minLength: entries.length }).map(objectText);
    });
}

const status = fc.oneof(
  { weight: 8, arbitrary: fc.constant(200) },
  { weight: 2, arbitrary: fc.constantFrom(404, 400, 401, 410) },
  { weight: 1, arbitrary: fc.constantFrom(500, 503, 302, 204, 299, 199) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 599 }) },
);

const answer = (issuer: string) =>
  fc.record({
    status,
    text: fc.oneof(
      { weight: 8, arbitrary: metadataBody(issuer) },
      { weight: 1, arbitrary: anyBody },
      { weight: 1, arbitrary: errorResponseBody([FUZZ_SECRET]) },
    ),
  });

const scenario = fc.constantFrom(...ISSUERS).chain((issuer) =>
  fc.record({
    issuer: fc.constant(issuer),
    answers: fc.tuple(answer(issuer), answer(issuer), answer(issuer)),
    ignoreTrailingSlash: fc.boolean(),
  }),
);

describe('discover (fuzzed)', () => {
  it('yields metadata for exactly the configured issuer, or a TokenError with a known code', async () => {
    let found = 0;
    await withoutPollution(() =>
      fc.assert(
        fc.asyncProperty(scenario, async ({ issuer, answers, ignoreTrailingSlash }) => {
          const asked: string[] = [];
          const get = async (location: URL): Promise<HttpResult> => {
            const a = answers[asked.length];
            asked.push(location.href);
            if (a === undefined || asked.length > metadataUrls(issuer).length) throw new Error('asked one location too many');
            return { status: a.status, headers: new Headers(), text: a.text };
          };
          const expectedUrls = metadataUrls(issuer).map((u) => u.href);
          let metadata;
          try {
            metadata = await discover(issuer, get, ignoreTrailingSlash);
          } catch (error) {
            expect(error).toBeInstanceOf(TokenError);
            const e = error as TokenError;
            expect(['INVALID_RESPONSE', 'OAUTH_ERROR']).toContain(e.code);
            const last = answers[asked.length - 1]!;
            if (e.code === 'OAUTH_ERROR') expect(last.status < 200 || last.status > 299).toBe(true);
            expect(e.status).toBe(last.status);
            expect(asked).toEqual(expectedUrls.slice(0, asked.length));
            return;
          }
          found++;
          const trim = (s: string) => (ignoreTrailingSlash ? s.replace(/\/$/, '') : s);
          expect(trim(metadata.issuer)).toBe(trim(issuer));
          // The document came from a 2xx answer, at a location tried in order; a 4xx at the first falls back.
          expect(asked).toEqual(expectedUrls.slice(0, asked.length));
          const used = answers[asked.length - 1]!;
          expect(used.status).toBeGreaterThanOrEqual(200);
          expect(used.status).toBeLessThanOrEqual(299);
          // Every location before the one used answered 4xx.
          for (const earlier of answers.slice(0, asked.length - 1)) expect(earlier.status >= 400 && earlier.status < 500).toBe(true);
          expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
          for (const name of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint'] as const) {
            expect(metadata[name] === undefined || (typeof metadata[name] === 'string' && metadata[name] !== '')).toBe(true);
          }
          const methods = metadata.token_endpoint_auth_methods_supported;
          expect(methods === undefined || (Array.isArray(methods) && methods.every((m) => typeof m === 'string'))).toBe(true);
          const aliases = metadata.mtls_endpoint_aliases;
          if (aliases !== undefined) {
            expect(Object.getPrototypeOf(aliases)).toBe(Object.prototype);
            expect(Object.hasOwn(aliases, '__proto__')).toBe(false);
            for (const value of Object.values(aliases)) expect(typeof value).toBe('string');
          }
        }),
        { numRuns: 400 },
      ),
    );
    // The generator must reach the success path often, or the property proves little.
    expect(found).toBeGreaterThan(15);
  });
});
