/**
 * Resource servers that check sender-constrained access tokens, on 127.0.0.1, for the DPoP and mutual
 * TLS tests:
 *
 * - {@link startDPoPResourceServer} (node:http) verifies the DPoP proof (RFC 9449 §4.3, §7.1) with jose:
 *   signature by the header `jwk`, `typ`, `htm`, `htu`, `ath`, `iat`, unique `jti`, the server nonce
 *   when it asks for one, and that the key's RFC 7638 thumbprint equals the token's `cnf.jkt`.
 * - {@link startMtlsResourceServer} (node:https, `requestCert`) compares the SHA-256 thumbprint of the
 *   client certificate on the connection with the token's `cnf['x5t#S256']` (RFC 8705 §3).
 *
 * How the token's claims are found (a JWT verified with the authorization server's keys, or
 * introspection) is up to the test: `claims(token)` resolves with them, or `undefined` for an
 * unknown or inactive token.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from 'jose';

/** What a bound token must carry. */
export interface BoundClaims {
  readonly cnf?: { readonly jkt?: string; readonly 'x5t#S256'?: string };
  readonly [claim: string]: unknown;
}

/** One request a bound resource server answered. */
export interface SeenBoundRequest {
  readonly method: string;
  /** The path with its query, as received. */
  readonly path: string;
  /** The `Authorization` scheme, lowercased, or `undefined`. */
  readonly scheme: string | undefined;
  /** The DPoP proof's payload, when one came and could be decoded (before verification). */
  readonly proof: Record<string, unknown> | undefined;
  /** The DPoP proof's protected header, when one came. */
  readonly proofHeader: Record<string, unknown> | undefined;
  /** The client certificate's `x5t#S256`, on the mutual-TLS server. */
  readonly certificate: string | undefined;
  readonly status: number;
  /** Why the request was refused, when it was. */
  readonly reason: string | undefined;
}

export interface BoundResourceServer {
  /** `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly seen: SeenBoundRequest[];
  /** DPoP server only: the nonce proofs must carry (when `requireNonce`). */
  nonce(): string;
  /** DPoP server only: starts a new nonce; proofs with the old one are refused with `use_dpop_nonce`. */
  rotateNonce(): void;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

function decodePart(jwt: string, index: number): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly challenge: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Options of {@link startDPoPResourceServer}. */
export interface DPoPResourceServerOptions {
  /** The token's claims, or `undefined` when it is not valid. */
  claims(token: string): Promise<BoundClaims | undefined>;
  /** Ask for a server nonce in every proof (RFC 9449 §9). @default false */
  requireNonce?: boolean;
  /** The proof algorithms accepted. @default ES256, ES384, ES512, RS256, PS256, EdDSA, Ed25519 */
  algorithms?: string[];
}

/**
 * A protected API that only accepts `Authorization: DPoP <token>` with a valid proof for that token
 * and that request (RFC 9449 §7.1). Answers 200 with `{ jkt, path }`; otherwise 401 with a `DPoP`
 * challenge (`invalid_token`, `invalid_dpop_proof`, or `use_dpop_nonce` with a `DPoP-Nonce`).
 */
export async function startDPoPResourceServer(options: DPoPResourceServerOptions): Promise<BoundResourceServer> {
  const { requireNonce = false, algorithms = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] } = options;
  const seen: SeenBoundRequest[] = [];
  const jtis = new Set<string>();
  let nonce = randomBytes(16).toString('base64url');
  let origin = '';

  const check = async (req: IncomingMessage): Promise<string> => {
    const authorization = req.headers.authorization ?? '';
    const match = /^DPoP ([\x21-\x7e]+)$/.exec(authorization);
    if (match === null) throw new Refusal(401, 'DPoP algs="ES256"', 'no DPoP access token');
    const token = match[1]!;
    const proof = req.headers.dpop;
    if (typeof proof !== 'string' || proof === '') throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'no DPoP proof');
    let payload: Record<string, unknown>;
    let header: { jwk?: JWK };
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms }));
    } catch {
      throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'proof signature invalid');
    }
    if ('d' in (header.jwk ?? {})) throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'private key in proof header');
    if (payload.htm !== req.method) throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'htm mismatch');
    const url = new URL(req.url ?? '/', origin);
    if (payload.htu !== `${url.origin}${url.pathname}`) throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'htu mismatch');
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > 60) {
      throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'iat not recent');
    }
    if (typeof payload.jti !== 'string' || payload.jti === '' || jtis.has(payload.jti)) {
      throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'jti missing or replayed');
    }
    jtis.add(payload.jti);
    if (payload.ath !== sha256(token)) throw new Refusal(401, 'DPoP error="invalid_dpop_proof"', 'ath mismatch');
    if (requireNonce && payload.nonce !== nonce) {
      throw new Refusal(
        401,
        'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
        'nonce missing or stale',
        {
          'dpop-nonce': nonce,
        },
      );
    }
    const claims = await options.claims(token);
    if (claims === undefined) throw new Refusal(401, 'DPoP error="invalid_token"', 'token invalid');
    const jkt = await calculateJwkThumbprint(header.jwk!, 'sha256');
    if (claims.cnf?.jkt === undefined || claims.cnf.jkt !== jkt)
      throw new Refusal(401, 'DPoP error="invalid_token"', 'token not bound to the proof key');
    return jkt;
  };

  const server = createServer((req, res) => {
    req.resume();
    const proof = typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined;
    const record = (status: number, reason?: string) =>
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        scheme: req.headers.authorization?.split(' ')[0]?.toLowerCase(),
        proof: proof === undefined ? undefined : decodePart(proof, 1),
        proofHeader: proof === undefined ? undefined : decodePart(proof, 0),
        certificate: undefined,
        status,
        reason,
      });
    check(req).then(
      (jkt) => {
        record(200);
        reply(res, 200, { jkt, path: req.url });
      },
      (error: unknown) => {
        if (!(error instanceof Refusal)) {
          record(500, String(error));
          reply(res, 500, { error: 'server_error' });
          return;
        }
        record(error.status, error.message);
        reply(res, error.status, { error: error.message }, { 'www-authenticate': error.challenge, ...error.headers });
      },
    );
  });
  origin = `http://127.0.0.1:${await listen(server)}`;
  return {
    url: origin,
    seen,
    nonce: () => nonce,
    rotateNonce: () => {
      nonce = randomBytes(16).toString('base64url');
    },
    close: () => closeServer(server),
  };
}

/** Options of {@link startMtlsResourceServer}. */
export interface MtlsResourceServerOptions {
  /** The server's certificate and key (for 127.0.0.1), PEM. */
  readonly cert: string;
  readonly key: string;
  /** The token's claims, or `undefined` when it is not valid. */
  claims(token: string): Promise<BoundClaims | undefined>;
}

/**
 * A protected API over HTTPS that asks every client for a certificate and accepts `Authorization: Bearer
 * <token>` only when the token's `cnf['x5t#S256']` is the thumbprint of that certificate. The chain is
 * not verified (RFC 8705 §3: the binding is the check), so self-signed certificates work too.
 */
export async function startMtlsResourceServer(options: MtlsResourceServerOptions): Promise<BoundResourceServer> {
  const seen: SeenBoundRequest[] = [];
  const check = async (req: IncomingMessage): Promise<string> => {
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? '');
    if (match === null) throw new Refusal(401, 'Bearer realm="mtls-api"', 'no bearer token');
    const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
    if (raw === undefined) throw new Refusal(401, 'Bearer error="invalid_token"', 'no client certificate');
    const thumbprint = createHash('sha256').update(new X509Certificate(raw).raw).digest('base64url');
    const claims = await options.claims(match[1]!);
    if (claims === undefined) throw new Refusal(401, 'Bearer error="invalid_token"', 'token invalid');
    if (claims.cnf?.['x5t#S256'] !== thumbprint)
      throw new Refusal(401, 'Bearer error="invalid_token"', 'token not bound to this certificate');
    return thumbprint;
  };
  const server = createHttpsServer({ cert: options.cert, key: options.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    req.resume();
    const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
    const certificate = raw === undefined ? undefined : createHash('sha256').update(raw).digest('base64url');
    const record = (status: number, reason?: string) =>
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        scheme: req.headers.authorization?.split(' ')[0]?.toLowerCase(),
        proof: undefined,
        proofHeader: undefined,
        certificate,
        status,
        reason,
      });
    check(req).then(
      (x5t) => {
        record(200);
        reply(res, 200, { 'x5t#S256': x5t, path: req.url });
      },
      (error: unknown) => {
        if (!(error instanceof Refusal)) {
          record(500, String(error));
          reply(res, 500, { error: 'server_error' });
          return;
        }
        record(error.status, error.message);
        reply(res, error.status, { error: error.message }, { 'www-authenticate': error.challenge });
      },
    );
  });
  const url = `https://127.0.0.1:${await listen(server)}`;
  return {
    url,
    seen,
    nonce: () => {
      throw new Error('no DPoP nonces on the mutual-TLS server');
    },
    rotateNonce: () => {
      throw new Error('no DPoP nonces on the mutual-TLS server');
    },
    close: () => closeServer(server),
  };
}

/** The unverified protected header of a JWT (for assertions on what the client sent). */
export const jwtHeader = (jwt: string) => decodeProtectedHeader(jwt) as Record<string, unknown>;
/** The unverified payload of a JWT. */
export const jwtPayload = (jwt: string) => decodePart(jwt, 1) ?? {};
