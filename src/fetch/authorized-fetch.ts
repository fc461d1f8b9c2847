import { TokenError } from '../errors.js';
import type { FetchLike } from '../options.js';
import type { DPoP } from '../protocol/dpop.js';
import { AUTHORIZATION, type HeldToken } from '../token.js';
import { isStaleTokenChallenge, observeNonce, shouldResendForNonce } from './challenge.js';

/** Options of {@link ClientCredentialsClient.createFetch}. */
export interface AuthorizedFetchOptions {
  /**
   * Origins (`https://api.example.com`) the token may be sent to. A request to any other origin
   * rejects with `TokenError` `CONFIG` before anything is sent.
   * @default any origin the caller names; redirects never carry the token to another origin
   */
  allowedOrigins?: readonly (string | URL)[] | undefined;
  /** Scope of the tokens this wrapper attaches. @default the client's `scope` */
  scope?: string | readonly string[] | undefined;
  /** Audience of the tokens this wrapper attaches. @default the client's `audience` */
  audience?: string | undefined;
  /** Resource indicators of the tokens this wrapper attaches. @default the client's `resource` */
  resource?: string | readonly string[] | undefined;
  /** The `fetch` that sends the requests. @default the client's `fetch` option, else `globalThis.fetch` at call time */
  fetch?: FetchLike | undefined;
}

/** Internal: where a wrapper gets its tokens, and how it drops one the resource server refused. */
export interface TokenSource {
  get(signal: AbortSignal | undefined): Promise<HeldToken>;
  /** The token `get` would hand out at once, synchronously; undefined when it would have to wait. */
  peek(): HeldToken | undefined;
  /**
   * Drops `token` from the cache if it is still the cached one (compare-and-invalidate). Returns false
   * when refusals of this token are paused (the resource server refuses fresh tokens too): the 401 then
   * goes back to the caller.
   */
  invalidate(token: HeldToken): boolean;
  /** Signs the DPoP proofs that go with `DPoP` tokens. */
  dpop?: DPoP | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];
/** Dropped on a redirect to another origin, as Node's own fetch does: the token and the caller's credentials. */
const CREDENTIAL_HEADERS = ['authorization', 'dpop', 'proxy-authorization', 'cookie'];

/** Bodies that can be sent a second time: the 401 retry and 307/308 redirects need one. */
export function isReplayable(body: unknown): boolean {
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

/** A `Request` by shape, so that one from another fetch implementation (undici's) is recognised too. */
export function isRequest(input: unknown): input is Request {
  if (input instanceof Request) return true;
  const r = input as Partial<Request> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.url === 'string' &&
    typeof r.method === 'string' &&
    typeof r.clone === 'function' &&
    r.headers !== undefined
  );
}

function originOf(url: string | URL): string {
  return (url instanceof URL ? url : new URL(url)).origin;
}

/** Normalises `allowedOrigins` to a set of origins; throws `TypeError` for anything that is not a URL. */
export function resolveAllowedOrigins(origins: readonly (string | URL)[] | undefined): ReadonlySet<string> | undefined {
  if (origins === undefined) return undefined;
  if (!Array.isArray(origins)) throw new TypeError('m2m-token: option `allowedOrigins` must be an array of origins');
  return new Set(
    origins.map((o) => {
      try {
        return originOf(o);
      } catch {
        throw new TypeError(`m2m-token: option \`allowedOrigins\` has an entry that is not a URL`);
      }
    }),
  );
}

/** One call of the wrapper: what every attempt of it sends. */
interface Call {
  readonly input: string | URL | Request;
  readonly request: Request | undefined;
  readonly init: RequestInit | undefined;
  readonly url: string | URL;
  readonly method: string;
  readonly fetchImpl: FetchLike;
  readonly signal: AbortSignal | null | undefined;
  readonly replayable: boolean;
  readonly follow: boolean;
  readonly dpop: DPoP | undefined;
}

/** What an attempt ended with: the response, whether it still carried the token, whether it brought a new DPoP nonce. */
interface Sent {
  response: Response;
  carried: boolean;
  newNonce: boolean;
}

/** A DPoP-Nonce the response brought that `proof` did not carry; read only when the client has a DPoP key. */
function observe(dpop: DPoP | undefined, target: string | URL, response: Response, proof: string | undefined): boolean {
  return dpop !== undefined && observeNonce(dpop, target, response.headers.get('dpop-nonce'), proof);
}

/** The headers of `call` with `token`: the caller's, and `authorization`. */
function withToken(call: Call, token: HeldToken): Headers | Record<string, string> {
  const callerHeaders = call.init?.headers ?? call.request?.headers;
  // Without headers of the caller's, a plain object: `fetch` copies whatever it gets into its own
  // `Headers`, and a redirect that must change them turns it into one.
  if (callerHeaders === undefined) return { authorization: token[AUTHORIZATION] };
  const headers = new Headers(callerHeaders);
  headers.set('authorization', token[AUTHORIZATION]);
  return headers;
}

/** Sends the first attempt of `call` with `headers`; redirects come back to {@link follow} when `fetch` would follow them. */
function firstAttempt(call: Call, headers: Headers | Record<string, string>): Promise<Response> {
  const { fetchImpl, input, init } = call; // called on its own, not as a method of `call`
  return fetchImpl(input, call.follow ? { ...init, headers, redirect: 'manual' } : { ...init, headers });
}

/** Sends `call` with `token` (and a DPoP proof for a DPoP token), following redirects itself when the caller lets `fetch` follow them. */
async function send(call: Call, token: HeldToken): Promise<Sent> {
  const { url, dpop } = call;
  const headers = withToken(call, token);
  let proof: string | undefined;
  if (dpop !== undefined && token.tokenType === 'DPoP') {
    proof = await dpop.proof(call.method, url, token.accessToken);
    if (headers instanceof Headers) headers.set('dpop', proof);
    else headers.dpop = proof;
  }
  const response = await firstAttempt(call, headers);
  const newNonce = observe(dpop, url, response, proof);
  return call.follow ? follow(call, token, { response, carried: true, newNonce, headers, proof }) : { response, carried: true, newNonce };
}

/** The first attempt of a request whose redirects are followed: its answer, and the headers and proof it went with. */
interface FirstAttempt extends Sent {
  headers: Headers | Record<string, string>;
  proof: string | undefined;
}

/** Follows the redirects answering the first attempt, keeping the token (and its proof) to its origin. */
async function follow(call: Call, token: HeldToken, first: FirstAttempt): Promise<Sent> {
  const { init, url, fetchImpl, dpop } = call;
  const proves = dpop !== undefined && token.tokenType === 'DPoP';
  let { headers, proof, response, newNonce, carried } = first;
  let method = call.method;
  let current = url;
  let body = init?.body ?? undefined;
  for (let hop = 1; ; hop++) {
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return { response, carried, newNonce };
    const changesToGet =
      (response.status === 303 && method !== 'GET' && method !== 'HEAD') ||
      ((response.status === 301 || response.status === 302) && method === 'POST');
    if (!changesToGet && !call.replayable && method !== 'GET' && method !== 'HEAD') return { response, carried, newNonce };
    if (hop > MAX_REDIRECTS) {
      // Cleanup, not awaited: a tee'd body (`response.clone()`) only finishes cancelling once every
      // branch is cancelled, so awaiting it could hang the caller forever.
      response.body?.cancel().catch(() => {});
      throw new TypeError('m2m-token: too many redirects');
    }
    const next = new URL(location, current);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      response.body?.cancel().catch(() => {});
      throw new TypeError('m2m-token: redirect to a URL that is not http(s)');
    }
    const hopHeaders = headers instanceof Headers ? headers : new Headers(headers);
    headers = hopHeaders;
    if (changesToGet) {
      method = 'GET';
      body = undefined;
      for (const name of BODY_HEADERS) hopHeaders.delete(name);
    }
    if (carried && next.origin !== originOf(current)) {
      for (const name of CREDENTIAL_HEADERS) hopHeaders.delete(name);
      carried = false;
      proof = undefined;
    }
    response.body?.cancel().catch(() => {});
    current = next;
    if (carried && proves) {
      proof = await dpop.proof(method, next, token.accessToken);
      hopHeaders.set('dpop', proof);
    }
    response = await fetchImpl(next, { ...init, method, body, headers: hopHeaders, redirect: 'manual', signal: call.signal });
    newNonce = observe(dpop, next, response, proof);
  }
}

/** The resource server asked for a DPoP nonce it sent, and the request can go once more with a proof carrying it. */
function resendsForNonce(call: Call, sent: Sent): boolean {
  const { response } = sent;
  return (
    sent.newNonce &&
    sent.carried &&
    call.replayable &&
    shouldResendForNonce(response.status, response.headers.get('www-authenticate'), sent.newNonce)
  );
}

/** Sends with `token`, once more with a fresh proof if the resource server asked for a DPoP nonce. */
async function sendWith(call: Call, token: HeldToken): Promise<Sent> {
  const sent = await send(call, token);
  if (!resendsForNonce(call, sent)) return sent;
  sent.response.body?.cancel().catch(() => {});
  return send(call, token);
}

/**
 * Builds a `fetch` that authorizes each request with a token from `source`.
 *
 * - Adds `Authorization: <token_type> <access_token>`, keeping the caller's headers, method, body and signal.
 * - On a 401 for a token it sent (plain, or `error="invalid_token"`) it drops exactly that token, gets a
 *   fresh one and sends once more, if the body can be replayed. A second 401 is returned.
 * - Follows redirects itself, so that whatever `fetch` is used the token never follows a redirect to
 *   another origin; `redirect: 'manual'` and `'error'` are passed through unchanged.
 *
 * Why follow redirects here rather than let `fetch` do it: a `fetch` that follows redirects decides on
 * its own which headers cross origins (Node's drops `authorization` but not a custom `dpop` header;
 * others keep everything), and it cannot sign a new DPoP proof for each hop (`htu` and `htm` must name
 * the request actually sent, RFC 9449 §4.3). Following them here makes both the same for every `fetch`.
 */
export function createAuthorizedFetch(
  source: TokenSource,
  allowedOrigins: ReadonlySet<string> | undefined,
  fetchOption: FetchLike | undefined,
  /** Whether a 401 for a stale token is worth a fresh one (resource discovery handles some itself). */
  recovers: (response: Response) => boolean = () => true,
): typeof globalThis.fetch {
  return async function authorizedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = isRequest(input) ? input : undefined;
    const url = request ? request.url : input instanceof URL ? input : String(input);
    if (allowedOrigins !== undefined) {
      let origin: string | undefined;
      try {
        origin = originOf(url);
      } catch {
        throw new TypeError('m2m-token: the request URL is not an absolute URL');
      }
      if (!allowedOrigins.has(origin)) {
        throw new TokenError('CONFIG', `origin ${origin} is not in allowedOrigins; the request was not sent`);
      }
    }
    const signal = init?.signal ?? request?.signal;
    const call: Call = {
      input,
      request,
      init,
      url,
      method: init?.method ?? request?.method ?? 'GET',
      fetchImpl: fetchOption ?? globalThis.fetch,
      signal,
      replayable: init !== undefined && init.body != null ? isReplayable(init.body) : request === undefined || request.body === null,
      follow: (init?.redirect ?? request?.redirect ?? 'follow') === 'follow',
      dpop: source.dpop,
    };

    // A cached token without a wait (an aborted signal still goes through `get`, which rejects).
    const first = (signal?.aborted === true ? undefined : source.peek()) ?? (await source.get(signal ?? undefined));
    // Without a DPoP key (no proof, no nonce) the first attempt goes from here, as `send` would send it:
    // two async functions fewer per request, 1–2 % of client.fetch throughput (docs/benchmarks.md (d)).
    let sent: Sent;
    if (call.dpop === undefined) {
      const headers = withToken(call, first);
      const answer = await firstAttempt(call, headers);
      sent =
        call.follow && REDIRECTS.has(answer.status)
          ? await follow(call, first, { response: answer, carried: true, newNonce: false, headers, proof: undefined })
          : { response: answer, carried: true, newNonce: false };
    } else sent = await sendWith(call, first);
    const { response, carried } = sent;
    if (
      response.status !== 401 ||
      !carried ||
      !call.replayable ||
      !isStaleTokenChallenge(response.headers.get('www-authenticate'), first.tokenType) ||
      !recovers(response)
    ) {
      return response;
    }
    if (!source.invalidate(first)) return response;
    response.body?.cancel().catch(() => {});
    return (await sendWith(call, await source.get(signal ?? undefined))).response;
  };
}
