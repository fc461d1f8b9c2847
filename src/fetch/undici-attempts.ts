import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeldToken } from '../token.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/**
 * undici's first handler API (`onConnect`, `onHeaders`, …), which its `Agent` and `Client` still run
 * on: a handler of this shape goes to them as is, without a conversion of every response's headers.
 */
export interface LegacyHandler {
  onConnect(abort: (reason?: Error) => void, context: object): void;
  onResponseStarted?(): void;
  onUpgrade?(statusCode: number, headers: (Buffer | string)[], socket: Duplex): void;
  onHeaders(statusCode: number, headers: (Buffer | string)[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: (Buffer | string)[] | null): void;
  onError(error: Error): void;
}

/** A caller's handler that also speaks the first API (undici's `WrapHandler` around `request`'s or `fetch`'s handler). */
export function speaksLegacy(handler: object): handler is LegacyHandler {
  const h = handler as Partial<LegacyHandler>;
  return (
    typeof h.onConnect === 'function' &&
    typeof h.onHeaders === 'function' &&
    typeof h.onData === 'function' &&
    typeof h.onComplete === 'function' &&
    typeof h.onError === 'function'
  );
}

/** A response's headers, as far as a resend decision reads them. */
export interface ResponseHeaders {
  /** The header `name` (lowercase), several values joined with `, `; null when absent. */
  header(name: string): string | null;
}

/** The request an attempt belongs to: what it asks of it. */
export interface AttemptOwner {
  /** An attempt connected: it is now the one an abort goes to. */
  attach(abort: (reason?: Error) => void): void;
  /** Whether the response just started is answered with a resend instead of going to the caller. */
  swallows(status: number, headers: ResponseHeaders, token: HeldToken, proof: string | undefined): boolean;
  /** The swallowed response ended: send again. */
  resend(): void;
}

/** `name` (lowercase) in raw response headers, decoded as undici's `parseHeaders` does. */
function rawHeaderOf(raw: readonly (Buffer | string | (Buffer | string)[])[], name: string): string | null {
  let found: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length !== name.length || String(key).toLowerCase() !== name) continue;
    const value = raw[i + 1]!;
    const text = Array.isArray(value) ? value.map((v) => v.toString('latin1')).join(', ') : value.toString('latin1');
    found = found === null ? text : `${found}, ${text}`;
  }
  return found;
}

/**
 * One attempt in undici's first handler API, for a caller's handler that speaks it too: headers,
 * pauses and resumes pass through untouched; the headers are read only when a resend may be due.
 */
export class LegacyAttempt implements LegacyHandler, ResponseHeaders {
  #swallowed = false;
  #raw: (Buffer | string)[] = [];

  constructor(
    readonly owner: AttemptOwner,
    readonly caller: LegacyHandler,
    readonly token: HeldToken,
    readonly proof: string | undefined,
  ) {}

  header(name: string): string | null {
    return rawHeaderOf(this.#raw, name);
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.owner.attach(abort);
  }
  onUpgrade(statusCode: number, headers: (Buffer | string)[], socket: Duplex): void {
    this.caller.onUpgrade?.(statusCode, headers, socket);
  }
  onHeaders(statusCode: number, headers: (Buffer | string)[], resume: () => void, statusText: string): boolean {
    this.#raw = headers;
    if (this.owner.swallows(statusCode, this, this.token, this.proof)) {
      this.#swallowed = true;
      return true;
    }
    // Told here, not when undici tells it: a swallowed response (a resend follows) is not the caller's.
    this.caller.onResponseStarted?.();
    return this.caller.onHeaders(statusCode, headers, resume, statusText);
  }
  onData(chunk: Buffer): boolean {
    return this.#swallowed || this.caller.onData(chunk);
  }
  onComplete(trailers: (Buffer | string)[] | null): void {
    if (this.#swallowed) this.owner.resend();
    else this.caller.onComplete(trailers);
  }
  onError(error: Error): void {
    this.caller.onError(error);
  }
}

/**
 * A stable controller for the caller's handler over every attempt (the `onRequestStart` API): abort,
 * pause and resume go to the attempt in progress; an abort before the first attempt started stops it
 * from being sent.
 */
export class AttemptsController implements Controller {
  target: Controller | undefined;
  #aborted: Error | undefined;
  #paused = false;

  constructor(readonly onAbort: (reason: Error) => void) {}

  attach(target: Controller): void {
    this.target = target;
    if (this.#aborted !== undefined) target.abort(this.#aborted);
    else if (this.#paused) target.pause();
  }
  abort(reason: Error): void {
    this.#aborted ??= reason;
    if (this.target !== undefined) this.target.abort(reason);
    else this.onAbort(reason);
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

function headerOf(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

/** One attempt in the `onRequestStart` API, for a caller's handler that speaks only that one. */
export class Attempt implements Handler, ResponseHeaders {
  #swallowed = false;
  #headers: IncomingHttpHeaders = {};

  constructor(
    readonly owner: AttemptOwner,
    readonly caller: Handler,
    readonly controller: AttemptsController,
    readonly token: HeldToken,
    readonly proof: string | undefined,
  ) {}

  header(name: string): string | null {
    return headerOf(this.#headers, name);
  }
  onRequestStart(controller: Controller): void {
    this.controller.attach(controller);
  }
  onRequestUpgrade(_c: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.caller.onRequestUpgrade?.(this.controller, statusCode, headers, socket);
  }
  onResponseStart(_c: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#headers = headers;
    if (this.owner.swallows(statusCode, this, this.token, this.proof)) this.#swallowed = true;
    else this.caller.onResponseStart?.(this.controller, statusCode, headers, statusMessage);
  }
  onResponseData(_c: Controller, chunk: Buffer): void {
    if (!this.#swallowed) this.caller.onResponseData?.(this.controller, chunk);
  }
  onResponseEnd(_c: Controller, trailers: IncomingHttpHeaders): void {
    if (this.#swallowed) this.owner.resend();
    else this.caller.onResponseEnd?.(this.controller, trailers);
  }
  onResponseError(_c: Controller, error: Error): void {
    this.caller.onResponseError?.(this.controller, error);
  }
}
