import { TokenError } from '../errors.js';
import { untilAborted } from '../util/abort.js';
import { loadUndici } from '../util/peers.js';
import { type ClientTls, type TlsOptions, tlsShapeError } from './mtls.js';

/**
 * The HTTP proxy of the client's requests: `'env'` for the proxy named by the environment
 * (`HTTPS_PROXY` / `https_proxy` for `https:` URLs, `HTTP_PROXY` / `http_proxy` for `http:` URLs,
 * hosts in `NO_PROXY` / `no_proxy` reached directly), or the proxy's URL (`http://proxy.internal:3128`,
 * credentials in the URL are sent as `Proxy-Authorization: Basic`). `https:` requests go through a
 * `CONNECT` tunnel, so the client certificate of `tls` reaches the server, never the proxy.
 */
export type ProxyOption = 'env' | string | URL;

/** How the client reaches servers: its own `fetch` over one undici dispatcher, and how to close it. */
export interface Transport {
  readonly fetch: typeof globalThis.fetch;
  /** Destroys the connections (those of previous certificates too). Never rejects. */
  close(): Promise<void>;
}

type Undici = typeof import('undici');
type Dispatcher = import('undici').Dispatcher;

/** What undici's connector needs of `tls` (the client certificate, the trusted CAs), without unset fields. */
function tlsConnect(tls: TlsOptions | undefined): Record<string, unknown> | undefined {
  if (tls === undefined) return undefined;
  const { cert, key, ca, passphrase } = tls;
  return Object.fromEntries(Object.entries({ cert, key, ca, passphrase }).filter(([, v]) => v !== undefined));
}

/**
 * The dispatcher for `tls` and `proxy`: a plain `Agent`; a `ProxyAgent` that tunnels to the server
 * with the TLS options (`requestTls`); or an `EnvHttpProxyAgent`, which also honours `NO_PROXY` and
 * connects directly, with the same TLS options, to the hosts it names.
 */
function dispatcherFor(undici: Undici, tls: TlsOptions | undefined, proxy: ProxyOption | undefined): Dispatcher {
  const connect = tlsConnect(tls);
  const tlsOptions = connect === undefined ? {} : { connect, requestTls: connect };
  if (proxy === undefined) return new undici.Agent(connect === undefined ? {} : { connect });
  if (proxy === 'env') return new undici.EnvHttpProxyAgent(tlsOptions);
  return new undici.ProxyAgent({ uri: String(proxy), ...(connect === undefined ? {} : { requestTls: connect }) });
}

/**
 * How long the connections of a replaced client certificate may finish their requests before they are
 * destroyed: undici's own default `headersTimeout` and `bodyTimeout`.
 */
const DRAIN_TIME = 300_000;

/** Where the TLS of a transport comes from: fixed options, or a source that asks a provider (`tls` as a function). */
export interface TlsSource {
  /** Asks the provider; resolves with its answer, checked (rejects with `TokenError` `CONFIG`). */
  get(): Promise<ClientTls>;
  /** The answer last checked, without asking. */
  readonly last: ClientTls | undefined;
}

/**
 * A `fetch` that presents `tls` (client certificate, private CAs) and goes through `proxy`: undici's
 * `fetch` over one dispatcher at a time, loaded on first use (undici is an optional peer).
 * `undefined` when neither is set: the client then uses the global `fetch`.
 *
 * With a TLS source, the dispatcher is the one of the source's latest answer: the first request asks
 * the provider, and so does the next request after one failed (a TLS handshake refused with an expired
 * certificate); whoever else asks it (before each token request, after `invalid_client`) makes the
 * next request use the new answer. A new certificate gets a new dispatcher; the previous one gets no
 * new requests, and is destroyed {@link DRAIN_TIME} later (its requests in flight finish meanwhile,
 * its idle connections end with their keep-alive timeout) or with the transport.
 */
export function createTransport(tls: TlsOptions | TlsSource | undefined, proxy: ProxyOption | undefined): Transport | undefined {
  if (tls === undefined && proxy === undefined) return undefined;
  const feature = proxy === undefined ? 'option `tls`' : 'option `proxy`';
  const source = isSource(tls) ? tls : undefined;
  let current: { readonly tls: ClientTls | undefined; readonly dispatcher: Dispatcher } | undefined;
  /** Dispatchers of previous certificates, each destroyed {@link DRAIN_TIME} after it was replaced, or with the transport. */
  const retiring = new Map<Dispatcher, ReturnType<typeof setTimeout>>();
  // Not closed: `close()` would forget the connections, which `destroy()` must still reach on close.
  // Requests in flight finish on their own time; idle connections end with their keep-alive timeout.
  const retire = (previous: Dispatcher) => {
    const timer = setTimeout(() => {
      retiring.delete(previous);
      previous.destroy().catch(() => {});
    }, DRAIN_TIME);
    timer.unref?.();
    retiring.set(previous, timer);
  };
  /** A request failed: the provider is asked at once (`asking`), and the next request waits for its answer, or asks again if it failed (`stale`). */
  let stale = false;
  let asking: Promise<void> | undefined;
  let closed = false;
  const dispatcher = async (undici: Undici): Promise<Dispatcher> => {
    if (closed) throw new TokenError('CLOSED', 'the client was closed');
    if (source === undefined) {
      current ??= { tls: undefined, dispatcher: dispatcherFor(undici, tls as TlsOptions | undefined, proxy) };
      return current.dispatcher;
    }
    if (asking !== undefined) await asking;
    if (stale || source.last === undefined) {
      await source.get();
      stale = false;
    }
    // The latest answer, whoever asked for it (answers may arrive out of order).
    const latest = source.last!;
    if (closed) throw new TokenError('CLOSED', 'the client was closed');
    if (current?.tls !== latest) {
      const previous = current?.dispatcher;
      current = { tls: latest, dispatcher: dispatcherFor(undici, latest.options, proxy) };
      if (previous !== undefined) retire(previous);
    }
    return current.dispatcher;
  };
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const undici = await loadUndici(feature);
    // Asking the provider (bounded by `timeout`) ends early when the request is aborted.
    const signal = init?.signal ?? (typeof input === 'object' && 'signal' in input ? input.signal : undefined);
    const through = await (signal ? untilAborted(dispatcher(undici), signal) : dispatcher(undici));
    try {
      return await send(undici, through, input, init);
    } catch (error) {
      // A failed connection (the server refused the certificate?) asks the provider, now: a retry of
      // this request then presents the new certificate, and is known to (see CertificateBinding). A
      // provider that fails here is asked again by the next request, which then fails with its error.
      if (source !== undefined) {
        stale = true;
        asking ??= source
          .get()
          .then(
            () => {
              stale = false;
            },
            () => {},
          )
          .finally(() => {
            asking = undefined;
          });
      }
      throw error;
    }
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    // Destroyed, not closed: close() would wait for every response body a caller never read, and
    // requests still in flight are abandoned on close anyway.
    close: async () => {
      closed = true;
      for (const timer of retiring.values()) clearTimeout(timer);
      const all = [...retiring.keys(), ...(current === undefined ? [] : [current.dispatcher])];
      retiring.clear();
      await Promise.all(all.map((d) => d.destroy().catch(() => {})));
    },
  };
}

function isSource(tls: TlsOptions | TlsSource | undefined): tls is TlsSource {
  return typeof (tls as Partial<TlsSource> | undefined)?.get === 'function';
}

/** Sends with undici's `fetch` over `dispatcher`. */
function send(undici: Undici, dispatcher: Dispatcher, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  if (typeof input === 'object' && !(input instanceof URL) && !(input instanceof undici.Request)) {
    // A Request of Node's own fetch is not one to the undici package (it would be read as the URL
    // "[object Request]"): send its parts instead, with `init` taking precedence as fetch() does.
    const { url, method, headers, body, redirect, signal } = input;
    return undici.fetch(url, {
      method,
      headers,
      body,
      redirect,
      signal,
      ...(body !== null && { duplex: 'half' }),
      ...(init as object),
      dispatcher,
    } as never) as unknown as Promise<Response>;
  }
  return undici.fetch(input as never, { ...(init as object), dispatcher } as never) as unknown as Promise<Response>;
}

/**
 * Validates `tls`, `proxy` and their combination with `fetch`, throwing a `TypeError` naming the
 * option. `tls` is a client certificate (`cert` and `key`), trusted CAs (`ca`), both, or a function
 * returning a certificate and key (checked when it answers). Returns the proxy as the client keeps it:
 * `'env'` or a `URL`.
 */
export function validateTransport(input: {
  tls?: unknown;
  proxy?: unknown;
  fetch?: unknown;
  clientAuth?: unknown;
}): 'env' | URL | undefined {
  const fail = (name: string, what: string): never => {
    throw new TypeError(`m2m-token: option \`${name}\` must be ${what}`);
  };
  if (input.tls !== undefined) {
    if (typeof input.tls !== 'function') {
      const shape = tlsShapeError(input.tls, false);
      if (shape !== undefined) fail(...shape);
      const { cert } = input.tls as TlsOptions;
      if (cert === undefined && (input.clientAuth === 'tls_client_auth' || input.clientAuth === 'self_signed_tls_client_auth')) {
        fail('tls.cert', `set for clientAuth ${input.clientAuth}`);
      }
    }
    if (input.fetch !== undefined) fail('fetch', 'unset when `tls` is set (the client presents the certificate with its own fetch)');
  }
  if (input.proxy === undefined) return undefined;
  if (input.proxy === 'env') return 'env';
  let url: URL | undefined;
  try {
    url = input.proxy instanceof URL || typeof input.proxy === 'string' ? new URL(input.proxy) : undefined;
  } catch {}
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail('proxy', "'env' or the http(s) URL of a proxy");
  if (input.fetch !== undefined) fail('fetch', 'unset when `proxy` is set (the client goes through the proxy with its own fetch)');
  return url;
}
