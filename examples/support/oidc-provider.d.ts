/**
 * Minimal type declarations for the parts of `oidc-provider` 9 that the embedded authorization server
 * uses. The package ships no types and `@types/oidc-provider` is not a dev dependency; if it is ever
 * added, delete this file (the declarations below follow its names: `Provider`, `Configuration`,
 * `ClientMetadata`, `KoaContextWithOIDC`).
 */
declare module 'oidc-provider' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** Client registration metadata (RFC 7591 names). */
  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none' | (string & {});
    grant_types?: string[];
    response_types?: string[];
    redirect_uris?: string[];
    scope?: string;
    client_name?: string;
    [key: string]: unknown;
  }

  /** What oidc-provider knows about the client making a request. */
  export interface Client {
    readonly clientId: string;
    readonly clientAuthMethod: string;
  }

  /** A token the provider found (ClientCredentials, AccessToken, RefreshToken). */
  export interface FoundToken {
    readonly kind: string;
    readonly jti: string;
    readonly clientId: string;
    readonly scope?: string;
    readonly exp?: number;
    destroy(): Promise<void>;
  }

  /** The Koa context with oidc-provider's `oidc` member; only what the configuration callbacks here read. */
  export interface KoaContextWithOIDC {
    readonly oidc: {
      readonly client?: Client;
      readonly params?: Readonly<Record<string, unknown>>;
      readonly route?: string;
    };
  }

  /** What `features.resourceIndicators.getResourceServerInfo` returns. */
  export interface ResourceServer {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
  }

  /** A storage adapter (the provider instantiates one per model name). */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface AdapterPayload {
    [key: string]: unknown;
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: unknown;
  }

  export interface Configuration {
    adapter?: new (name: string) => Adapter;
    clients?: ClientMetadata[];
    jwks?: { keys: object[] };
    cookies?: { keys?: (string | Buffer)[] };
    scopes?: string[];
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean;
    ttl?: Record<string, number | ((ctx: KoaContextWithOIDC, token: FoundToken, client: Client) => number)>;
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      introspection?: {
        enabled: boolean;
        allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: FoundToken) => Promise<boolean> | boolean;
      };
      revocation?: {
        enabled: boolean;
        allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: FoundToken) => Promise<boolean> | boolean;
      };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: KoaContextWithOIDC, client: Client, oneOf?: string[]) => Promise<string | string[] | undefined> | string | string[] | undefined;
        useGrantedResource?: (ctx: KoaContextWithOIDC, model: unknown) => Promise<boolean> | boolean;
        getResourceServerInfo?: (ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client) => Promise<ResourceServer> | ResourceServer;
      };
      [feature: string]: unknown;
    };
    [option: string]: unknown;
  }

  export interface TokenModel {
    find(value: string, options?: { ignoreExpiration?: boolean }): Promise<FoundToken | undefined>;
  }

  /** The provider: a Koa application that emits lifecycle events (`client_credentials.saved`, `grant.error`, …). */
  export class Provider extends EventEmitter {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    /** A Node request listener serving every endpoint. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    readonly ClientCredentials: TokenModel;
    readonly AccessToken: TokenModel;
  }

  export namespace errors {
    class OIDCProviderError extends Error {
      constructor(status: number, message: string);
      error_description?: string;
    }
    class InvalidTarget extends OIDCProviderError {
      constructor(description?: string);
    }
  }

  export default Provider;
}
