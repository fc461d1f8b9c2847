import { loadUndici } from '../util/peers.js';
import type { TlsOptions } from './mtls.js';

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
  /** Destroys the dispatcher's connections. Never rejects. */
  close(): Promise<void>;
}

type Undici = typeof import('undici');

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
function dispatcherFor(undici: Undici, tls: TlsOptions | undefined, proxy: ProxyOption | undefined): import('undici').Dispatcher {
  const connect = tlsConnect(tls);
  const tlsOptions = connect === undefined ? {} : { connect, requestTls: connect };
  if (proxy === undefined) return new undici.Agent(connect === undefined ? {} : { connect });
  if (proxy === 'env') return new undici.EnvHttpProxyAgent(tlsOptions);
  return new undici.ProxyAgent({ uri: String(proxy), ...(connect === undefined ? {} : { requestTls: connect }) });
}

/**
 * A `fetch` that presents `tls` (client certificate, private CAs) and goes through `proxy`: undici's
 * `fetch` with one dispatcher for the client, loaded on first use (undici is an optional peer).
 * `undefined` when neither is set: the client then uses the global `fetch`.
 */
export function createTransport(tls: TlsOptions | undefined, proxy: ProxyOption | undefined): Transport | undefined {
  if (tls === undefined && proxy === undefined) return undefined;
  const feature = proxy === undefined ? 'option `tls`' : 'option `proxy`';
  let ready: Promise<{ undici: Undici; dispatcher: import('undici').Dispatcher }> | undefined;
  const load = () => {
    if (ready === undefined) {
      ready = loadUndici(feature).then((undici) => ({ undici, dispatcher: dispatcherFor(undici, tls, proxy) }));
      ready.catch(() => {
        ready = undefined;
      });
    }
    return ready;
  };
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const { undici, dispatcher } = await load();
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
      } as never);
    }
    return undici.fetch(input as never, { ...(init as object), dispatcher } as never);
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    // Destroyed, not closed: close() would wait for every response body a caller never read, and
    // requests still in flight are abandoned on close anyway.
    close: async () => {
      await ready
        ?.then(
          (r) => r.dispatcher.destroy(),
          () => {},
        )
        .catch(() => {});
    },
  };
}

const pem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);

/**
 * Validates `tls`, `proxy` and their combination with `fetch`, throwing a `TypeError` naming the
 * option. `tls` is a client certificate (`cert` and `key`), trusted CAs (`ca`), or both. Returns the
 * proxy as the client keeps it: `'env'` or a `URL`.
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
    const { cert, key, ca } = (input.tls ?? {}) as Partial<TlsOptions>;
    if (cert !== undefined || key !== undefined || ca === undefined) {
      if (!pem(cert)) fail('tls.cert', 'a PEM certificate (string or Buffer)');
      if (!pem(key)) fail('tls.key', 'a PEM private key (string or Buffer)');
    }
    if (ca !== undefined && !pem(ca) && !(Array.isArray(ca) && ca.length > 0 && ca.every(pem))) {
      fail('tls.ca', 'a PEM certificate or a list of them (strings or Buffers)');
    }
    if (cert === undefined && (input.clientAuth === 'tls_client_auth' || input.clientAuth === 'self_signed_tls_client_auth')) {
      fail('tls.cert', `set for clientAuth ${input.clientAuth}`);
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
