import type { Dispatcher } from 'undici';
import { AUTHORIZATION, type HeldToken } from '../token.js';
import type { TokenSource } from './authorized-fetch.js';
import { isStaleTokenChallenge, observeNonce, shouldResendForNonce } from './challenge.js';
import { authorizationHeaders } from './request-headers.js';
import {
  Attempt,
  type AttemptOwner,
  AttemptsController,
  type LegacyHandler,
  LegacyAttempt,
  type ResponseHeaders,
  speaksLegacy,
} from './undici-attempts.js';

type Handler = Dispatcher.DispatchHandler;

/** Bodies undici can send a second time: the 401 and nonce resends need one. */
function isReplayable(body: unknown): boolean {
  return body == null || typeof body === 'string' || body instanceof Uint8Array;
}

const isOurs = (name: unknown) => {
  const lower = String(name).toLowerCase();
  return lower === 'authorization' || lower === 'dpop';
};

/**
 * The caller's headers without `authorization` and `dpop`, in the caller's form: a flat list of names
 * and values stays one, anything else (an object, an iterable of pairs) becomes an object. Values go on
 * as the caller gave them, for undici to check; interceptors composed inside this one (`retry()`,
 * `cache()`) get the form they expect.
 */
function callerHeaders(headers: unknown): Record<string, unknown> | unknown[] {
  if (Array.isArray(headers) && (headers.length === 0 || !Array.isArray(headers[0]))) {
    const out: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (headers[i + 1] !== undefined && !isOurs(headers[i])) out.push(headers[i], headers[i + 1]);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  if (headers == null) return out;
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[unknown, unknown]>) {
      if (value === undefined || isOurs(name)) continue;
      const key = String(name);
      const previous = out[key];
      out[key] = previous === undefined ? value : [previous, value].flat();
    }
  } else {
    for (const name of Object.keys(headers)) {
      const value = (headers as Record<string, unknown>)[name];
      if (value !== undefined && !isOurs(name)) out[name] = value;
    }
  }
  return out;
}

/** The origin of a dispatch: undici passes the origin itself as a string, parsed only when it is not one. */
function originOf(origin: string | URL): string {
  if (typeof origin === 'string' && !origin.endsWith('/') && !/[A-Z]/.test(origin)) return origin;
  return new URL(String(origin)).origin;
}

/**
 * An undici interceptor (`Dispatcher.compose`) that authorizes requests to `origins` with tokens from
 * `source`: `authorization` (and a DPoP proof per request), one resend after a 401 for the token it sent
 * and one after a request for a DPoP nonce, when the body can be replayed. Other origins pass through.
 */
export function undiciInterceptor(source: TokenSource, origins: ReadonlySet<string>): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const origin = opts.origin;
    // An origin as undici passes it is found as is; anything else is normalised first.
    if (origin === undefined || !(origins.has(origin as string) || origins.has(originOf(origin)))) return dispatch(opts, handler);
    if (typeof (handler as Handler).onRequestStart !== 'function') {
      throw new TypeError('m2m-token/undici: the interceptor needs undici >= 7 (the onRequestStart handler API)');
    }
    return new AuthorizedRequest(source, dispatch, opts, handler as Handler).start();
  };
}

/**
 * One request through the interceptor: its attempts, and what the caller's handler sees of them. With
 * a cached token (and no DPoP proof to sign) the first attempt is dispatched at once, synchronously.
 * The attempts speak undici's first handler API when the caller's handler does too (it does for
 * `request` and `fetch` through `compose()`), so that no response's headers are converted twice.
 */
class AuthorizedRequest implements AttemptOwner {
  readonly #legacy: LegacyHandler | undefined;
  readonly #controller: AttemptsController | undefined;
  readonly #replayable: boolean;
  #url: URL | undefined;
  #tokenResent = false;
  #nonceResent = false;
  /** The caller aborted, with this reason (none: undici makes its own `RequestAbortedError`). */
  #aborted: { readonly reason: Error | undefined } | undefined;
  /** Aborts the attempt in progress (first handler API). */
  #abortAttempt: ((reason?: Error) => void) | undefined;
  /** Rejects the wait for a token. */
  #abortWait: ((reason: Error) => void) | undefined;

  constructor(
    readonly source: TokenSource,
    readonly dispatch: Dispatcher.Dispatch,
    readonly opts: Dispatcher.DispatchOptions,
    readonly handler: Handler,
  ) {
    this.#replayable = isReplayable(opts.body);
    if (speaksLegacy(handler)) this.#legacy = handler;
    else this.#controller = new AttemptsController((reason) => this.#abort(reason));
  }

  start(): boolean {
    try {
      if (this.#legacy !== undefined) this.#legacy.onConnect((reason) => this.#abort(reason), {});
      else this.handler.onRequestStart?.(this.#controller!, {});
    } catch (error) {
      this.#fail(error);
      return true;
    }
    return this.#send();
  }

  /** Sends an attempt: at once when the token is at hand, else once it is. */
  #send(): boolean {
    if (this.#aborted !== undefined) {
      this.#fail(this.#aborted.reason ?? new Error('aborted'));
      return true;
    }
    const token = this.source.dpop === undefined ? this.source.peek() : undefined;
    if (token !== undefined) return this.#dispatch(token, undefined);
    void this.#sendOnceReady();
    return true;
  }

  async #sendOnceReady(): Promise<void> {
    let token: HeldToken;
    let proof: string | undefined;
    try {
      token =
        this.source.peek() ??
        (await new Promise<HeldToken>((resolve, reject) => {
          // An abort before the attempt is dispatched stops the wait for the token.
          this.#abortWait = reject;
          this.source.get(undefined).then(resolve, reject);
        }));
      this.#abortWait = undefined;
      if (this.source.dpop !== undefined) {
        proof = (await authorizationHeaders(token, this.source.dpop, this.opts.method, this.#target())).dpop;
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#dispatch(token, proof);
  }

  #dispatch(token: HeldToken, proof: string | undefined): boolean {
    try {
      // Inside the try: headers that cannot be read fail this request, on every path.
      const headers = callerHeaders(this.opts.headers);
      if (Array.isArray(headers)) {
        headers.push('authorization', token[AUTHORIZATION]);
        if (proof !== undefined) headers.push('dpop', proof);
      } else {
        headers.authorization = token[AUTHORIZATION];
        if (proof !== undefined) headers.dpop = proof;
      }
      const attempt =
        this.#legacy !== undefined
          ? new LegacyAttempt(this, this.#legacy, token, proof)
          : new Attempt(this, this.handler, this.#controller!, token, proof);
      return this.dispatch({ ...this.opts, headers: headers as string[] }, attempt as unknown as Handler);
    } catch (error) {
      this.#fail(error);
      return true;
    }
  }

  #abort(reason: Error | undefined): void {
    this.#aborted ??= { reason };
    if (this.#abortAttempt !== undefined) this.#abortAttempt(reason);
    else this.#abortWait?.(reason ?? new Error('aborted'));
  }

  attach(abort: (reason?: Error) => void): void {
    this.#abortAttempt = abort;
    if (this.#aborted !== undefined) abort(this.#aborted.reason);
  }

  swallows(status: number, headers: ResponseHeaders, token: HeldToken, proof: string | undefined): boolean {
    const dpop = this.source.dpop;
    const newNonce = dpop !== undefined && observeNonce(dpop, this.#target(), headers.header('dpop-nonce'), proof);
    if ((status !== 401 && status !== 400) || !this.#replayable) return false;
    const challenge = headers.header('www-authenticate');
    if (!this.#nonceResent && proof !== undefined && shouldResendForNonce(status, challenge, newNonce)) {
      this.#nonceResent = true;
      return true;
    }
    if (!this.#tokenResent && status === 401 && isStaleTokenChallenge(challenge, token.tokenType) && this.source.invalidate(token)) {
      this.#tokenResent = true;
      this.#nonceResent = false;
      return true;
    }
    return false;
  }

  resend(): void {
    // Between attempts, an abort goes to the wait for the next one.
    this.#abortAttempt = undefined;
    if (this.#controller !== undefined) this.#controller.target = undefined;
    this.#send();
  }

  /** The request's URL, for DPoP proofs and nonces. */
  #target(): URL {
    this.#url ??= new URL(this.opts.path, String(this.opts.origin));
    return this.#url;
  }

  #fail(cause: unknown): void {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    if (this.#legacy !== undefined) this.#legacy.onError(error);
    else this.handler.onResponseError?.(this.#controller!, error);
  }
}
