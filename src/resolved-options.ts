import type { BudgetPolicy } from './acquire/budget.js';
import type { CooldownPolicy } from './acquire/cooldown.js';
import type { Logger } from './events.js';
import type { ClientAuthMethod } from './protocol/client-auth.js';
import type { CredentialProvider } from './protocol/credential-source.js';
import type { DPoPOptions } from './protocol/dpop.js';
import type { SigningKey } from './protocol/keys.js';
import type { TlsOptions, TlsProvider } from './protocol/mtls.js';
import type { RetryPolicy } from './protocol/retry.js';
import type { ResolvedResourceDiscovery } from './resources/options.js';
import type { TokenStore } from './store.js';
import type { TraceSink } from './trace.js';

/** Options after validation, with every default applied. */
export interface ResolvedOptions {
  tokenEndpoint: URL | undefined;
  /** The issuer exactly as configured (a URL object's `href`), compared verbatim with the metadata's. */
  issuer: string | undefined;
  /**
   * The issuer was given as a `URL` object, whose `href` always ends a bare origin with `/`: discovery
   * then accepts the metadata's issuer with or without that trailing slash.
   */
  issuerFromUrl: boolean;
  revocationEndpoint: URL | undefined;
  clientId: string;
  clientSecret: string | CredentialProvider<unknown> | undefined;
  clientAuth: ClientAuthMethod;
  /** `clientAuth` was not set: with discovery, a method the metadata lists may be used instead. */
  clientAuthDefaulted: boolean;
  basicEncoding: 'form' | 'raw' | 'auto';
  signingKey: SigningKey | undefined;
  /** A `privateKey` function, with the `alg` and `kid` options its keys are read with. */
  keyProvider:
    | { readonly get: CredentialProvider<unknown>; readonly alg: string | undefined; readonly kid: string | undefined }
    | undefined;
  /** `clientAssertion.token` and its type. */
  assertion: { readonly token: string | CredentialProvider<unknown> | { readonly file: string }; readonly type: string } | undefined;
  refreshTokens: boolean;
  assertionAudience: 'issuer' | 'token_endpoint' | 'endpoint';
  assertionLifetime: number;
  tls: TlsOptions | TlsProvider | undefined;
  proxy: 'env' | URL | undefined;
  dpop: DPoPOptions | true | undefined;
  scope: readonly string[];
  audience: string | undefined;
  resource: readonly string[];
  extraParams: Readonly<Record<string, string>>;
  timeout: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch | undefined;
  allowInsecureHttp: boolean;
  expiryMargin: number;
  refreshRatio: number;
  refreshJitter: number;
  defaultLifetime: number;
  maxCacheEntries: number;
  maxResponseBytes: number;
  invalidClientBackoff: number;
  logger: Logger | undefined;
  store: TokenStore | undefined;
  trace: TraceSink | undefined;
  resourceDiscovery: ResolvedResourceDiscovery | undefined;
  cooldown: CooldownPolicy;
  budget: BudgetPolicy | undefined;
}
