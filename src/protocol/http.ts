import { TokenError } from '../errors.js';
import { untilAborted } from '../util/abort.js';
import { redact, redactError } from '../util/redact.js';

/** A response read in full, within the size limit. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** How to send one request to the authorization server. */
export interface SendOptions {
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly timeout: number;
  readonly maxResponseBytes: number;
  /** Aborts the request from outside (the client closing, a shutdown deadline). Its reason is rethrown. */
  readonly signal?: AbortSignal | undefined;
  /** Redacted from error messages taken from a failed `fetch` (a custom one may quote the request). */
  readonly secrets?: readonly string[] | undefined;
}

const TIMED_OUT = Symbol('timeout');

const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } as const;

/**
 * A form POST (`application/x-www-form-urlencoded`, expecting JSON) to an authorization server endpoint:
 * the token and revocation requests. `prepare` adds client authentication (and a DPoP proof) to the body
 * and headers before it is sent.
 */
export async function postForm(
  url: URL,
  body: URLSearchParams,
  options: SendOptions,
  prepare?: (body: URLSearchParams, headers: Record<string, string>) => Promise<void> | void,
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...FORM_HEADERS };
  await prepare?.(body, headers);
  return send(url, { method: 'POST', headers, body: body.toString() }, options);
}

/**
 * Sends one request to an authorization server endpoint and reads the whole body, within `timeout` and
 * `maxResponseBytes`. Redirects are not followed (RFC 6749 §3.2 endpoints must not redirect) and the
 * HTTP cache is bypassed. Failures become `TokenError`s: `TIMEOUT`, `NETWORK`, `INVALID_RESPONSE`, or the
 * outer signal's reason.
 */
export async function send(url: URL, init: RequestInit, options: SendOptions): Promise<HttpResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(TIMED_OUT), options.timeout);
  timer.unref?.();
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    outer?.throwIfAborted();
    const fetchImpl = options.fetch ?? globalThis.fetch;
    const requestInit: RequestInit & { cache: string } = { ...init, redirect: 'manual', cache: 'no-store', signal: controller.signal };
    // Raced with the signal: a custom `fetch` (or its body) may ignore it, and the time limit must hold anyway.
    const response = await untilAborted(fetchImpl(url, requestInit), controller.signal);
    const text = await readBody(response, options.maxResponseBytes, controller.signal);
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    if (controller.signal.aborted) {
      if (controller.signal.reason === TIMED_OUT) {
        throw new TokenError('TIMEOUT', `no complete answer from ${url.origin}${url.pathname} within ${options.timeout} ms`);
      }
      throw controller.signal.reason;
    }
    if (TokenError.is(error)) throw error;
    // The cause is a redacted copy: a custom fetch may quote the request (the Basic credential, the
    // form body) in its message, its stack or a nested cause.
    const secrets = options.secrets ?? [];
    throw new TokenError('NETWORK', `request to ${url.origin}${url.pathname} failed: ${redact(describe(error), secrets)}`, {
      cause: redactError(error, secrets),
    });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (error instanceof Error) return error.message;
  return 'unknown error';
}

async function readBody(response: Response, limit: number, signal: AbortSignal): Promise<string> {
  const tooLarge = () =>
    new TokenError('INVALID_RESPONSE', `response body is larger than ${limit} bytes (HTTP ${response.status})`, {
      status: response.status,
    });
  const declared = Number(response.headers.get('content-length'));
  // Cancellation is cleanup: not awaited, so a body whose cancel never settles cannot hang the request.
  if (declared > limit) {
    response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await untilAborted(reader.read(), signal);
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
