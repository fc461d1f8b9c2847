import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { AUTHORIZATION, type HeldToken } from '../token.js';
import type { TokenSource } from './authorized-fetch.js';
import { isStaleTokenChallenge, observeNonce, shouldResendForNonce } from './challenge.js';
import { authorizationHeaders } from './request-headers.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/** Bodies undici can send a second time: the 401 and nonce resends need one. */
function isReplayable(body: unknown): boolean {
  return body == null || typeof body === 'string' || body instanceof Uint8Array;
}

/** The caller's headers (object, flat array or iterable of pairs) as an object, without ours. */
function headersWithout(headers: unknown, drop: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (name: unknown, value: unknown) => {
    const key = String(name).toLowerCase();
    if (drop.includes(key) || value === undefined) return;
    const v = Array.isArray(value) ? value.map(String) : String(value);
    const prev = out[key];
    out[key] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
  };
  if (headers == null) return out;
  if (Array.isArray(headers) && (headers.length === 0 || !Array.isArray(headers[0]))) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[unknown, unknown]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers as object)) add(name, value);
  }
  return out;
}

function headerOf(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

/** The origin of a dispatch: undici passes the origin itself as a string, parsed only when it is not one. */
function originOf(origin: string | URL): string {
  if (typeof origin === 'string' && !origin.endsWith('/') && !/[A-Z]/.test(origin)) return origin;
  return new URL(String(origin)).origin;
}

/**
 * A stable controller for the caller's handler over every attempt: abort, pause and resume go to the
 * attempt in progress; an abort before the first attempt started stops it from being sent.
 */
class AttemptsController implements Controller {
  target: Controller | undefined;
  #aborted: Error | undefined;
  #paused = false;
  onAbort: ((reason: Error) => void) | undefined;

  attach(target: Controller): void {
    this.target = target;
    if (this.#aborted !== undefined) target.abort(this.#aborted);
    else if (this.#paused) target.pause();
  }
  abort(reason: Error): void {
    this.#aborted ??= reason;
    if (this.target !== undefined) this.target.abort(reason);
    else this.onAbort?.(reason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
  get aborted(): boolean {
    return this.#aborted !== undefined || (this.target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused || (this.target?.paused ?? false);
  }
  get reason(): Error | null {
    return this.#aborted ?? this.target?.reason ?? null;
  }
}

/**
 * An undici interceptor (`Dispatcher.compose`) that authorizes requests to `origins` with tokens from
 * `source`: `authorization` (and a DPoP proof per request), one resend after a 401 for the token it sent
 * and one after a request for a DPoP nonce, when the body can be replayed. Other origins pass through.
 */
export function undiciInterceptor(source: TokenSource, origins: ReadonlySet<string>): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    if (opts.origin === undefined || !origins.has(originOf(opts.origin))) return dispatch(opts, handler);
    if (typeof (handler as Handler).onRequestStart !== 'function') {
      throw new TypeError('m2m-token/undici: the interceptor needs undici >= 7 (the onRequestStart handler API)');
    }
    new AuthorizedRequest(source, dispatch, opts, handler as Handler).start();
    return true;
  };
}

/** One request through the interceptor: its attempts, and what the caller's handler sees of them. */
class AuthorizedRequest {
  readonly #controller = new AttemptsController();
  #url: URL | undefined;
  readonly #replayable: boolean;
  #tokenResent = false;
  #nonceResent = false;

  constructor(
    readonly source: TokenSource,
    readonly dispatch: Dispatcher.Dispatch,
    readonly opts: Dispatcher.DispatchOptions,
    readonly handler: Handler,
  ) {
    this.#replayable = isReplayable(opts.body);
  }

  start(): void {
    let abortWait!: (reason: Error) => void;
    const aborted = new Promise<never>((_, reject) => (abortWait = reject));
    aborted.catch(() => {});
    // An abort before the first attempt is dispatched stops the wait for the token.
    this.#controller.onAbort = (reason) => abortWait(reason);
    try {
      this.handler.onRequestStart?.(this.#controller, {});
    } catch (error) {
      this.#fail(error);
      return;
    }
    void this.#send(aborted);
  }

  /** The request's URL, for DPoP proofs and nonces. */
  #target(): URL {
    this.#url ??= new URL(this.opts.path, String(this.opts.origin));
    return this.#url;
  }

  #fail(error: unknown): void {
    this.handler.onResponseError?.(this.#controller, error instanceof Error ? error : new Error(String(error)));
  }

  async #send(aborted: Promise<never>): Promise<void> {
    let token: HeldToken;
    let headers: Record<string, string | string[]>;
    try {
      token = await Promise.race([this.source.get(undefined), aborted]);
      const ours =
        this.source.dpop === undefined
          ? { authorization: token[AUTHORIZATION] }
          : await authorizationHeaders(token, this.source.dpop, this.opts.method, this.#target());
      headers = { ...headersWithout(this.opts.headers, ['authorization', 'dpop']), ...ours };
    } catch (error) {
      this.#fail(error);
      return;
    }
    try {
      this.dispatch({ ...this.opts, headers }, this.#attemptHandler(token, headers.dpop as string | undefined, aborted));
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The handler of one attempt: forwards everything, or swallows a 401 it answers with a resend. */
  #attemptHandler(token: HeldToken, proof: string | undefined, aborted: Promise<never>): Handler {
    let swallowed = false;
    const forward = this.handler;
    const ctl = this.#controller;
    return {
      onRequestStart: (controller) => ctl.attach(controller),
      onRequestUpgrade: (_c, status, headers, socket) => forward.onRequestUpgrade?.(ctl, status, headers, socket),
      onResponseStart: (_c, status, headers, message) => {
        const challenge = headerOf(headers, 'www-authenticate');
        const newNonce =
          this.source.dpop !== undefined && observeNonce(this.source.dpop, this.#target(), headerOf(headers, 'dpop-nonce'), proof);
        if (this.#replayable && !this.#nonceResent && proof !== undefined && shouldResendForNonce(status, challenge, newNonce)) {
          this.#nonceResent = swallowed = true;
        } else if (
          this.#replayable &&
          !this.#tokenResent &&
          status === 401 &&
          isStaleTokenChallenge(challenge, token.tokenType) &&
          this.source.invalidate(token)
        ) {
          this.#tokenResent = swallowed = true;
          this.#nonceResent = false;
        }
        if (!swallowed) forward.onResponseStart?.(ctl, status, headers, message);
      },
      onResponseData: (_c, chunk) => {
        if (!swallowed) forward.onResponseData?.(ctl, chunk);
      },
      onResponseEnd: (_c, trailers) => {
        if (!swallowed) forward.onResponseEnd?.(ctl, trailers);
        else void this.#send(aborted);
      },
      onResponseError: (_c, error) => forward.onResponseError?.(ctl, error),
    };
  }
}
