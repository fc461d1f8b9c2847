import { randomBytes } from 'node:crypto';
import type { TokenInfo } from './types.js';

interface Issued {
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly expiresAt: number;
}

/** The tokens a test server issued: random opaque strings, active until they expire or are revoked. */
export class TokenRegistry {
  readonly #tokens = new Map<string, Issued>();

  /** Issues a token to `clientId` for `scope`, valid `expiresIn` seconds. */
  issue(clientId: string, scope: readonly string[], expiresIn: number): string {
    const token = randomBytes(24).toString('base64url');
    this.#tokens.set(token, { clientId, scope, expiresAt: Date.now() + expiresIn * 1000 });
    return token;
  }

  /** What is known of `token`: expired and revoked tokens are inactive. */
  info(token: string): TokenInfo {
    const issued = this.#tokens.get(token);
    if (issued === undefined) return { active: false };
    if (issued.expiresAt <= Date.now()) {
      this.#tokens.delete(token);
      return { active: false };
    }
    return { active: true, ...issued };
  }

  /** Revokes `token`; with `clientId`, only if it was issued to that client (RFC 7009 §2.1). */
  revoke(token: string, clientId?: string): void {
    const issued = this.#tokens.get(token);
    if (issued !== undefined && (clientId === undefined || issued.clientId === clientId)) this.#tokens.delete(token);
  }

  /** How many tokens are active now. */
  get active(): number {
    let n = 0;
    for (const token of [...this.#tokens.keys()]) if (this.info(token).active) n++;
    return n;
  }

  clear(): void {
    this.#tokens.clear();
  }
}
