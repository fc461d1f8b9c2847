import { nodeCrypto } from '../util/node-crypto.js';
import { type PrivateKeyInput, type SigningKey, publicJwk, signingKey } from './keys.js';
import { BoundedMap } from '../util/bounded-map.js';
import { loadJose } from '../util/peers.js';

/** DPoP options: `true` generates an ES256 key pair for the client's lifetime, or bring your own key. */
export interface DPoPOptions {
  /** The private key proofs are signed with (JWK, PEM or `KeyObject`). @default a generated P-256 key */
  privateKey?: PrivateKeyInput;
  /** The signing algorithm. @default inferred from the key (ES256 for a generated one) */
  alg?: string;
}

const MAX_NONCES = 100;
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
/** RFC 7638 required members, in lexicographic order, per key type. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * The DPoP (RFC 9449) key of a client: signs a fresh proof for every token request and every request
 * a token goes with, and remembers the server nonces (`DPoP-Nonce`) per origin.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export class DPoP {
  readonly #key: SigningKey;
  readonly #jwk: Record<string, unknown>;
  readonly #nonces = new BoundedMap<string, string>(MAX_NONCES);
  /** RFC 7638 thumbprint of the public key (`jkt`): tokens are cached per key. */
  readonly thumbprint: string;

  constructor(options: true | DPoPOptions) {
    const { privateKey, alg } = options === true ? {} : options;
    const key = privateKey ?? nodeCrypto().generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    this.#key = signingKey('dpop.privateKey', key, alg, undefined);
    const { kty, crv, x, y, n, e } = publicJwk(this.#key.key);
    this.#jwk = Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
    const members = THUMBPRINT_MEMBERS[String(kty)] ?? [];
    const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, this.#jwk[m]])));
    this.thumbprint = nodeCrypto().createHash('sha256').update(canonical).digest('base64url');
  }

  /**
   * A proof for one request: `htm`, `htu` (without query and fragment), `iat`, `jti`, the origin's
   * nonce if one is known, and `ath` (hash of the access token) when a token goes with the request.
   */
  async proof(method: string, url: string | URL, accessToken?: string): Promise<string> {
    const jose = await loadJose('DPoP');
    const target = new URL(url);
    const nonce = this.#nonces.get(target.origin);
    // fetch upper-cases only these methods (Fetch standard, "normalize a method"); others go as written.
    const htm = NORMALIZED_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : method;
    const claims: Record<string, unknown> = { htm, htu: `${target.origin}${target.pathname}`, jti: nodeCrypto().randomUUID() };
    if (nonce !== undefined) claims.nonce = nonce;
    if (accessToken !== undefined) claims.ath = nodeCrypto().createHash('sha256').update(accessToken).digest('base64url');
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: this.#key.alg, typ: 'dpop+jwt', jwk: this.#jwk })
      .setIssuedAt()
      .sign(this.#key.key);
  }

  /**
   * Remembers the `DPoP-Nonce` a server sent. Returns true when it is one that `proof` (the proof sent
   * with the request) did not carry — so a retry with it is worth it — or, without a proof, when it is new
   * for that origin. Comparing with the proof, not with what is remembered, matters for concurrent
   * requests: the first response to arrive stores the nonce, and the others must still retry.
   */
  observe(url: string | URL, headers: Headers, proof?: string): boolean {
    const nonce = headers.get('dpop-nonce');
    if (nonce === null || nonce === '' || nonce.length > 1024) return false;
    const origin = new URL(url).origin;
    const previous = this.#nonces.get(origin);
    if (previous !== nonce) this.#nonces.set(origin, nonce);
    return (proof === undefined ? previous : nonceOf(proof)) !== nonce;
  }
}

/** The `nonce` claim of a proof this class signed. */
function nonceOf(proof: string): string | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const nonce = (payload as { nonce?: unknown } | null)?.nonce;
    return typeof nonce === 'string' ? nonce : undefined;
  } catch {
    return undefined;
  }
}
