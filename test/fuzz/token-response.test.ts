/**
 * Fuzzing of the token endpoint response handling (RFC 6749 §5.1, §5.2) as a pure function: whatever
 * the server sends, `processTokenResponse` returns a well-formed token or throws a `TokenError` with a
 * known code — exactly the one an independent model of the rules predicts — and never pollutes a prototype.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import type { HttpResult } from '../../src/protocol/http.js';
import { parseOAuthError, processTokenResponse } from '../../src/protocol/token-response.js';

// The client loads zod on its first response; these call the parsers directly.
import {
  PROTO_KEYS,
  TOKEN_RE,
  VISIBLE_ASCII_RE,
  accessTokenValue,
  anyBody,
  errorResponseBody,
  hostileKey,
  jsonText,
  objectText,
  tokenChars,
  tokenResponseBody,
  wellFormedTokenBody,
  withoutPollution,
} from './arbitraries.js';

const DEFAULT_LIFETIME = 300_000;
const OWN_MEMBERS = new Set(['access_token', 'token_type', 'expires_in', 'scope', 'refresh_token', 'id_token']);
const LAST_DATE = 8.64e15; // the largest epoch ms a Date can hold

const result = (status: number, text: string, headers: Record<string, string> = {}): HttpResult => ({
  status,
  headers: new Headers(headers),
  text,
});

type Outcome =
  | { kind: 'token'; accessToken: string; tokenType: string; expiresAt: number; scope: string | undefined; extraKeys: string[] }
  | { kind: 'oauth'; error: string; errorDescription: string | undefined; errorUri: string | undefined }
  | { kind: 'invalid' };

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An independent model of the rules: what a response must yield. */
function model(status: number, text: string, sentAt: number, requestedScope: string | undefined): Outcome {
  const body = parse(text) as Record<string, unknown> | undefined;
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const oauth = (): Outcome | undefined => {
    if (!isObject || typeof body.error !== 'string' || body.error === '') return undefined;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { kind: 'oauth', error: body.error, errorDescription: text(body.error_description), errorUri: text(body.error_uri) };
  };
  if (status < 200 || status > 299) return oauth() ?? { kind: 'invalid' };
  if (!isObject) return { kind: 'invalid' };
  const error = oauth();
  if (error) return error;
  const { access_token, token_type, expires_in, scope } = body;
  if (typeof access_token !== 'string' || !VISIBLE_ASCII_RE.test(access_token)) return { kind: 'invalid' };
  if (token_type !== undefined && (typeof token_type !== 'string' || !TOKEN_RE.test(token_type))) return { kind: 'invalid' };
  let lifetime: number;
  if (expires_in === undefined || expires_in === null) lifetime = DEFAULT_LIFETIME;
  else if (typeof expires_in === 'number' && Number.isFinite(expires_in) && expires_in >= 0 && expires_in < 1e12)
    lifetime = expires_in * 1000;
  else if (typeof expires_in === 'string' && /^\d{1,12}(\.\d+)?$/.test(expires_in)) lifetime = Number(expires_in) * 1000;
  else return { kind: 'invalid' };
  if (scope !== undefined && scope !== null && typeof scope !== 'string') return { kind: 'invalid' };
  const lower = (token_type ?? 'Bearer').toLowerCase();
  const tokenType = lower === 'bearer' ? 'Bearer' : lower === 'dpop' ? 'DPoP' : (token_type as string);
  return {
    kind: 'token',
    accessToken: access_token,
    tokenType,
    expiresAt: sentAt + lifetime,
    scope: (scope as string | null | undefined) ?? requestedScope,
    extraKeys: Object.keys(body)
      .filter((k) => !OWN_MEMBERS.has(k))
      .sort(),
  };
}

/** Runs processTokenResponse and describes what it did, failing on anything but a token or a TokenError. */
function run(status: number, text: string, sentAt: number, requestedScope: string | undefined): Outcome {
  let token;
  try {
    token = processTokenResponse(result(status, text), { sentAt, defaultLifetime: DEFAULT_LIFETIME, requestedScope });
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    expect(TokenError.is(error)).toBe(true);
    const e = error as TokenError;
    expect(e.status).toBe(status);
    if (e.code === 'OAUTH_ERROR') {
      expect(e).toBeInstanceOf(OAuthError);
      const o = e as OAuthError;
      expect(typeof o.error).toBe('string');
      return { kind: 'oauth', error: o.error, errorDescription: o.errorDescription, errorUri: o.errorUri };
    }
    expect(e.code).toBe('INVALID_RESPONSE');
    expect(typeof e.message).toBe('string');
    return { kind: 'invalid' };
  }
  // The invariants of every token handed out.
  expect(typeof token.accessToken).toBe('string');
  expect(token.accessToken).toMatch(VISIBLE_ASCII_RE);
  expect(typeof token.tokenType).toBe('string');
  expect(token.tokenType).toMatch(TOKEN_RE);
  expect(Number.isFinite(token.expiresAt)).toBe(true);
  expect(token.expiresAt).toBeGreaterThanOrEqual(sentAt);
  expect(token.expiresAt).toBeLessThanOrEqual(LAST_DATE);
  expect(Number.isNaN(new Date(token.expiresAt).getTime())).toBe(false);
  expect(token.scope === undefined || typeof token.scope === 'string').toBe(true);
  expect(Object.getPrototypeOf(token.extra)).toBe(Object.prototype);
  expect(Object.isFrozen(token)).toBe(true);
  expect(Object.isFrozen(token.extra)).toBe(true);
  expect(Object.keys(token)).not.toContain('accessToken');
  expect(JSON.stringify(token)).not.toContain('"accessToken"');
  for (const key of Object.keys(token.extra)) expect(OWN_MEMBERS.has(key)).toBe(false);
  return {
    kind: 'token',
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    expiresAt: token.expiresAt,
    scope: token.scope,
    extraKeys: Object.keys(token.extra).sort(),
  };
}

const sentAt = fc.integer({ min: 0, max: 4_000_000_000_000 });
const scopeRequested = fc.option(fc.constantFrom('a', 'orders:read orders:write'), { nil: undefined });

describe('processTokenResponse (fuzzed)', () => {
  it('turns any 2xx body into exactly what the model predicts: a valid token, an OAuthError or INVALID_RESPONSE', async () => {
    let tokens = 0;
    await withoutPollution(() =>
      fc.assert(
        fc.property(
          fc.integer({ min: 200, max: 299 }),
          fc.oneof(wellFormedTokenBody, tokenResponseBody, tokenResponseBody, anyBody),
          sentAt,
          scopeRequested,
          (status, text, at, scope) => {
            const outcome = run(status, text, at, scope);
            expect(outcome).toEqual(model(status, text, at, scope));
            if (outcome.kind === 'token') tokens++;
          },
        ),
        { numRuns: 500 },
      ),
    );
    // The generator must reach the success path often, or the property proves little.
    expect(tokens).toBeGreaterThan(60);
  });

  it('builds the token from well-formed members exactly, keeping every other member (prototype names too) as an own key of a plain `extra`', async () => {
    const extraMembers = fc
      .uniqueArray(fc.tuple(hostileKey, jsonText), { selector: ([k]) => k, maxLength: 6 })
      .map((members) => members.filter(([k]) => !OWN_MEMBERS.has(k) && k !== 'error'));
    await withoutPollution(() =>
      fc.assert(
        fc.property(
          accessTokenValue,
          fc.option(fc.oneof(tokenChars, fc.constantFrom(...PROTO_KEYS.filter((k) => TOKEN_RE.test(k)), 'bearer', 'DPOP')), {
            nil: undefined,
          }),
          fc.option(fc.oneof(fc.integer({ min: 0, max: 999_999_999_999 }), fc.double({ min: 0, max: 999_999_999_999, noNaN: true })), {
            nil: undefined,
          }),
          extraMembers,
          sentAt,
          (accessToken, tokenType, expiresIn, extra, at) => {
            const entries: [string, string][] = [['access_token', JSON.stringify(accessToken)]];
            if (tokenType !== undefined) entries.push(['token_type', JSON.stringify(tokenType)]);
            if (expiresIn !== undefined) entries.push(['expires_in', JSON.stringify(expiresIn)]);
            const text = objectText([...entries, ...extra]);
            const token = processTokenResponse(result(200, text), {
              sentAt: at,
              defaultLifetime: DEFAULT_LIFETIME,
              requestedScope: undefined,
            });
            expect(token.accessToken).toBe(accessToken);
            expect(typeof token.tokenType).toBe('string');
            const lower = tokenType?.toLowerCase();
            expect(token.tokenType).toBe(lower === undefined || lower === 'bearer' ? 'Bearer' : lower === 'dpop' ? 'DPoP' : tokenType);
            expect(token.expiresAt).toBe(at + (expiresIn === undefined ? DEFAULT_LIFETIME : expiresIn * 1000));
            expect(Object.getPrototypeOf(token.extra)).toBe(Object.prototype);
            expect(Object.keys(token.extra).sort()).toEqual(extra.map(([k]) => k).sort());
            for (const [key, value] of extra) {
              expect(Object.hasOwn(token.extra, key)).toBe(true);
              expect(JSON.stringify(Object.getOwnPropertyDescriptor(token.extra, key)!.value)).toBe(JSON.stringify(JSON.parse(value)));
            }
          },
        ),
        { numRuns: 300 },
      ),
    );
  });

  it('turns any non-2xx answer into an OAuthError (when the body is one) or INVALID_RESPONSE, with the status', async () => {
    const status = fc.oneof(fc.integer({ min: 400, max: 599 }), fc.integer({ min: 100, max: 199 }), fc.integer({ min: 300, max: 399 }));
    let oauth = 0;
    await withoutPollution(() =>
      fc.assert(
        fc.property(status, fc.oneof(errorResponseBody(['echo']), tokenResponseBody), sentAt, (code, text, at) => {
          const outcome = run(code, text, at, undefined);
          expect(outcome).toEqual(model(code, text, at, undefined));
          expect(outcome.kind).not.toBe('token');
          if (outcome.kind === 'oauth') oauth++;
        }),
        { numRuns: 400 },
      ),
    );
    expect(oauth).toBeGreaterThan(20);
  });

  it('parseOAuthError never throws and only recognises objects with a non-empty string `error`', async () => {
    await withoutPollution(() =>
      fc.assert(
        fc.property(fc.integer({ min: 100, max: 599 }), fc.oneof(errorResponseBody(['echo']), anyBody), (status, text) => {
          const error = parseOAuthError(result(status, text));
          const expected = model(status < 200 || status > 299 ? status : 400, text, 0, undefined);
          if (expected.kind === 'oauth') {
            expect(error).toBeInstanceOf(OAuthError);
            expect({ error: error!.error, errorDescription: error!.errorDescription, errorUri: error!.errorUri }).toEqual({
              error: expected.error,
              errorDescription: expected.errorDescription,
              errorUri: expected.errorUri,
            });
            expect(error!.status).toBe(status);
          } else {
            expect(error).toBeUndefined();
          }
        }),
        { numRuns: 300 },
      ),
    );
  });
});
