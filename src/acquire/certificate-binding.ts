import type { Acquire, TokenEntry } from '../cache/token-entry.js';
import { CredentialSource } from '../protocol/credential-source.js';
import { type ClientTls, certificateThumbprint, type TlsOptions } from '../protocol/mtls.js';
import type { Clock } from '../util/clock.js';

/** How many store keys are remembered (they are hashes: computing one is cheap, but not free). */
const MEMO_LIMIT = 10_000;

/**
 * What a client's tokens are bound to by mutual TLS (RFC 8705 `cnf.x5t#S256`): the certificate of its
 * connections. A fixed `tls` is checked at construction (a `TypeError` for a key that is not the
 * certificate's). With a `tls` provider, the certificate can change: tokens issued for the previous one
 * are bound to it, and resource servers refuse them on connections presenting the new one. So:
 *
 * - the provider is asked before each token request ({@link CertificateBinding.bind}), before the store
 *   is read, so that the store key names the certificate the next token is for;
 * - when the provider returns a different certificate (whoever asked: a token request, a failed
 *   connection, a refusal by the token endpoint), every entry's current token is forgotten (requests
 *   in flight go on) and store keys name the new certificate: a token bound to the old one is never
 *   handed out again, from memory or from a shared store;
 * - a token request during which the certificate changed may have been sent with the old one: it is
 *   sent once more with the new one, and that token is the one kept; the first is not written to the
 *   store (its key names the previous certificate, its token may be bound to either). Unless its last
 *   attempt was sent after the change (a retry inside the request asked the provider, after a refused
 *   handshake or `invalid_client`): that token is bound to the new certificate, and is kept.
 */
export class CertificateBinding {
  readonly #source: CredentialSource<ClientTls> | undefined;
  readonly #fixed: string | undefined;
  readonly #clock: Clock;
  /** When ({@link Clock.now}) the provider last returned a different certificate. */
  #changedAt = Number.NEGATIVE_INFINITY;

  /** `entries` lists the client's token entries (read when the certificate changes). */
  constructor(tls: TlsOptions | CredentialSource<ClientTls> | undefined, entries: () => Iterable<TokenEntry>, clock: Clock) {
    this.#clock = clock;
    if (tls instanceof CredentialSource) {
      this.#source = tls;
      tls.listen(() => {
        this.#changedAt = this.#clock.now();
        for (const entry of entries()) entry.forget();
      });
    } else this.#fixed = tls && certificateThumbprint(tls);
  }

  /** The `x5t#S256` of the certificate tokens are bound to now: `undefined` without one (or before a provider answered). */
  get thumbprint(): string | undefined {
    return this.#source === undefined ? this.#fixed : this.#source.last?.thumbprint;
  }

  /**
   * The store key of a cache key, built by `build` with the current certificate's thumbprint and
   * remembered until the certificate changes.
   */
  storeKeys(build: (cacheKey: string, x5t: string | undefined) => string): (cacheKey: string) => string {
    const memo = new Map<string, string>();
    let memoFor: string | undefined;
    return (cacheKey) => {
      const x5t = this.thumbprint;
      if (x5t !== memoFor) {
        memo.clear();
        memoFor = x5t;
      }
      let key = memo.get(cacheKey);
      if (key === undefined) {
        key = build(cacheKey, x5t);
        if (memo.size < MEMO_LIMIT) memo.set(cacheKey, key);
      }
      return key;
    };
  }

  /**
   * Decorates `acquire` (outermost, around the shared store): the `tls` provider is asked first (its
   * failure fails the request with `CONFIG`), and a request during which the certificate changed is sent
   * once more. A fixed `tls` leaves `acquire` as it is.
   */
  bind(acquire: Acquire): Acquire {
    const source = this.#source;
    if (source === undefined) return acquire;
    return async (request) => {
      const before = await source.get();
      // A token that came while the certificate changed is not shared under the previous one's store key.
      const issued = await acquire({ ...request, isCurrent: () => request.isCurrent() && source.last === before });
      // The transport sends with the latest certificate: a request sent after the change presented it
      // (a token from the store, attempts 0, is dated by another process's clock: not trusted here).
      const sentAfterChange = issued.attempts > 0 && this.#changedAt < issued.sentAt;
      return source.last === before || sentAfterChange ? issued : acquire(request);
    };
  }
}
