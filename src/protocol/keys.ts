import type { KeyObject } from 'node:crypto';
import { nodeCrypto } from '../util/node-crypto.js';

/** A private key as users hold it: a JWK object, a PEM string, or a `KeyObject`. */
export type PrivateKeyInput = KeyObject | string | Readonly<Record<string, unknown>>;

/** The signing algorithms m2m-token infers or accepts for a key type. */
const ALGORITHMS: Record<string, readonly string[]> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'rsa-pss': ['PS256', 'PS384', 'PS512'],
  'ec:prime256v1': ['ES256'],
  'ec:secp384r1': ['ES384'],
  'ec:secp521r1': ['ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
};

/** A validated private key with the algorithm it signs with. Never printed. */
export interface SigningKey {
  readonly key: KeyObject;
  readonly alg: string;
  readonly kid: string | undefined;
}

function keyType(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  return type === 'ec' ? `ec:${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}` : type;
}

/**
 * Turns `input` into a private `KeyObject`, infers its algorithm (RS256, PS256 for RSA-PSS keys, ES256/
 * ES384/ES512 by curve, EdDSA) or checks the one given, and takes `kid` from a JWK. Throws a
 * `TypeError` naming `option` — and never the key material — when the key is unusable.
 */
export function signingKey(option: string, input: PrivateKeyInput, alg: string | undefined, kid: string | undefined): SigningKey {
  let key: KeyObject;
  try {
    if (typeof input === 'string') key = nodeCrypto().createPrivateKey(input);
    else if (isKeyObject(input)) key = input;
    else key = nodeCrypto().createPrivateKey({ key: input as never, format: 'jwk' });
  } catch {
    throw new TypeError(`m2m-token: option \`${option}\` is not a private key (expected a JWK, a PEM string or a KeyObject)`);
  }
  if (key.type !== 'private') throw new TypeError(`m2m-token: option \`${option}\` must be a private key, not a ${key.type} key`);
  const type = keyType(key);
  let allowed = ALGORITHMS[type];
  if (allowed === undefined) throw new TypeError(`m2m-token: option \`${option}\` has an unsupported key type (${type})`);
  if (type === 'rsa-pss') {
    // A key restricted to one hash (RFC 4055 parameters) signs only with the PSxxx of that hash.
    const hash = key.asymmetricKeyDetails?.hashAlgorithm;
    if (hash !== undefined) allowed = allowed.filter((a) => `sha${a.slice(2)}` === hash);
    if (allowed.length === 0)
      throw new TypeError(`m2m-token: option \`${option}\` is an RSA-PSS key for ${hash}, which no JWS algorithm uses`);
    key = rsaFromPss(option, key);
  }
  const jwkAlg = !isKeyObject(input) && typeof input === 'object' && typeof input.alg === 'string' ? input.alg : undefined;
  const chosen = alg ?? jwkAlg ?? allowed[0]!;
  if (!allowed.includes(chosen)) {
    throw new TypeError(`m2m-token: algorithm ${chosen} does not fit the ${type} key of \`${option}\` (use ${allowed.join(', ')})`);
  }
  const jwkKid = !isKeyObject(input) && typeof input === 'object' && typeof input.kid === 'string' ? input.kid : undefined;
  return { key, alg: chosen, kid: kid ?? jwkKid };
}

/**
 * The RSA key inside an RSA-PSS private key, as a plain RSA `KeyObject`: neither JWK nor jose (which
 * turns a `KeyObject` into a JWK on Node.js 20) can use an RSA-PSS `KeyObject`, while PS256/384/512 with the
 * same RSA key is what it is for. PKCS #8 (RFC 5208): PrivateKeyInfo ::= SEQUENCE { version INTEGER,
 * privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING } whose octets are the PKCS #1 RSAPrivateKey.
 */
function rsaFromPss(option: string, key: KeyObject): KeyObject {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  let offset = 0;
  const header = (tag: number): number => {
    if (der[offset] !== tag) throw new TypeError(`m2m-token: option \`${option}\` is an RSA-PSS key that cannot be read`);
    let length = der[offset + 1]!;
    offset += 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + der[offset++]!;
    }
    return length;
  };
  const skip = (tag: number) => {
    const length = header(tag);
    offset += length;
  };
  header(0x30);
  skip(0x02);
  skip(0x30);
  const length = header(0x04);
  try {
    return nodeCrypto().createPrivateKey({ key: der.subarray(offset, offset + length), format: 'der', type: 'pkcs1' });
  } catch {
    throw new TypeError(`m2m-token: option \`${option}\` is an RSA-PSS key that cannot be read`);
  }
}

/** The public JWK of a private key (for a DPoP proof header). */
export function publicJwk(key: KeyObject): Record<string, unknown> {
  return nodeCrypto().createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'KeyObject';
}
