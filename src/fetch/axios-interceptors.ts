import type { AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { HeldToken } from '../token.js';
import type { TokenSource } from './authorized-fetch.js';
import { isStaleTokenChallenge, observeNonce, shouldResendForNonce } from './challenge.js';
import { authorizationHeaders } from './request-headers.js';

/**
 * What the interceptors know of one request, kept on its config under {@link STATE} (a string key, as
 * axios copies configs key by key on a resend). A class instance, so that axios's config merge keeps
 * it by reference rather than copying it.
 */
class RequestState {
  token: HeldToken | undefined;
  proof: string | undefined;
  url: URL | undefined;
  tokenResent = false;
  nonceResent = false;
}

/** The config key the interceptors keep their {@link RequestState} under. */
export const STATE = 'm2mToken';

type Config = InternalAxiosRequestConfig & { [STATE]?: RequestState };

/** Request data axios can send a second time: not a stream. */
function isReplayable(data: unknown): boolean {
  if (data == null || typeof data !== 'object') return true;
  const d = data as { pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof d.pipe !== 'function' && typeof d.getReader !== 'function' && typeof d[Symbol.asyncIterator] !== 'function';
}

function headerOf(headers: unknown, name: string): string | null {
  const h = headers as { get?: (n: string) => unknown } | Record<string, unknown> | undefined;
  const value = typeof h?.get === 'function' ? h.get(name) : (h as Record<string, unknown> | undefined)?.[name];
  return value == null ? null : Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * Installs request and response interceptors on `instance` that authorize requests to `origins` with
 * tokens from `source`, resend once after a 401 for the token sent (and once after a request for a DPoP
 * nonce) when the data can be replayed, and leave other origins untouched. Returns a function that
 * removes them.
 */
export function installAxiosInterceptors(instance: AxiosInstance, source: TokenSource, origins: ReadonlySet<string>): () => void {
  const { dpop } = source;

  const request = instance.interceptors.request.use(async (config: Config) => {
    let url: URL;
    try {
      url = new URL(instance.getUri(config));
    } catch {
      return config; // not absolute: not for a listed origin
    }
    if (!origins.has(url.origin)) return config;
    config[STATE] ??= new RequestState();
    const state = config[STATE];
    const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
    const token = await source.get(signal);
    const method = (config.method ?? 'get').toUpperCase();
    const headers = await authorizationHeaders(token, dpop, method, url);
    config.headers.set('authorization', headers.authorization);
    if (headers.dpop === undefined) config.headers.delete('dpop');
    else config.headers.set('dpop', headers.dpop);
    Object.assign(state, { token, proof: headers.dpop, url });
    return config;
  });

  const observe = (config: Config | undefined, headers: unknown): boolean => {
    const state = config?.[STATE];
    if (state?.url === undefined) return false;
    return observeNonce(dpop, state.url, headerOf(headers, 'dpop-nonce'), state.proof);
  };

  const response = instance.interceptors.response.use(
    (res: AxiosResponse) => {
      observe(res.config, res.headers);
      return res;
    },
    (error: AxiosError) => {
      const res = error.response;
      const config = error.config as Config | undefined;
      const state = config?.[STATE];
      if (res === undefined || config === undefined || state?.token === undefined) throw error;
      const newNonce = observe(config, res.headers);
      if (!isReplayable(config.data)) throw error;
      const challenge = headerOf(res.headers, 'www-authenticate');
      if (!state.nonceResent && state.proof !== undefined && shouldResendForNonce(res.status, challenge, newNonce)) {
        state.nonceResent = true;
        return instance.request(config);
      }
      if (
        !state.tokenResent &&
        res.status === 401 &&
        isStaleTokenChallenge(challenge, state.token.tokenType) &&
        source.invalidate(state.token)
      ) {
        state.tokenResent = true;
        state.nonceResent = false;
        return instance.request(config);
      }
      throw error;
    },
  );

  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
