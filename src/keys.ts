import { type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';

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
    if (typeof input === 'string') key = createPrivateKey(input);
    else if (isKeyObject(input)) key = input;
    else key = createPrivateKey({ key: input as never, format: 'jwk' });
  } catch {
    throw new TypeError(`m2m-token: option \`${option}\` is not a private key (expected a JWK, a PEM string or a KeyObject)`);
  }
  if (key.type !== 'private') throw new TypeError(`m2m-token: option \`${option}\` must be a private key, not a ${key.type} key`);
  const type = keyType(key);
  const allowed = ALGORITHMS[type];
  if (allowed === undefined) throw new TypeError(`m2m-token: option \`${option}\` has an unsupported key type (${type})`);
  const jwkAlg = !isKeyObject(input) && typeof input === 'object' && typeof input.alg === 'string' ? input.alg : undefined;
  const chosen = alg ?? jwkAlg ?? allowed[0]!;
  if (!allowed.includes(chosen)) {
    throw new TypeError(`m2m-token: algorithm ${chosen} does not fit the ${type} key of \`${option}\` (use ${allowed.join(', ')})`);
  }
  const jwkKid = !isKeyObject(input) && typeof input === 'object' && typeof input.kid === 'string' ? input.kid : undefined;
  return { key, alg: chosen, kid: kid ?? jwkKid };
}

/** The public JWK of a private key (for a DPoP proof header). */
export function publicJwk(key: KeyObject): Record<string, unknown> {
  return createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'KeyObject';
}
