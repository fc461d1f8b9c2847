/**
 * X.509 certificates made at test time, in memory, with pure JavaScript (`@peculiar/x509` over Node's
 * WebCrypto): no `openssl` binary is needed and no private key is ever written to disk or committed.
 *
 * Every key is ECDSA P-256 (fast to generate) and every certificate is valid from a minute ago for a day.
 */
import 'reflect-metadata';
import { createHash, X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate and its private key, both PEM, with what registrations and resource servers compare. */
export interface TestCertificate {
  /** The certificate, PEM. */
  readonly cert: string;
  /** Its PKCS #8 private key, PEM. Lives only in memory. */
  readonly key: string;
  /** The subject DN as written when the certificate was made (RFC 4514 order: `CN=…,O=…`). */
  readonly subject: string;
  /** SHA-256 thumbprint of the DER certificate, base64url: `cnf['x5t#S256']` of RFC 8705 §3.1. */
  readonly thumbprint: string;
  /** The public JWK of the certificate's key with `x5c` (for a client's `jwks`, RFC 8705 §2.2). */
  readonly jwk: Record<string, unknown>;
  /** @internal the signing key, to issue certificates when this is a CA. */
  readonly signingKey: CryptoKey;
  /** @internal the parsed certificate. */
  readonly certificate: x509.X509Certificate;
}

function keys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

function validity() {
  return { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) };
}

async function complete(certificate: x509.X509Certificate, pair: CryptoKeyPair, subject: string): Promise<TestCertificate> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  const cert = certificate.toString('pem');
  const der = Buffer.from(certificate.rawData);
  const publicJwk = (await webcrypto.subtle.exportKey('jwk', pair.publicKey)) as Record<string, unknown>;
  const { kty, crv, x, y } = publicJwk;
  return {
    cert,
    key,
    subject,
    thumbprint: createHash('sha256').update(der).digest('base64url'),
    jwk: { kty, crv, x, y, x5c: [der.toString('base64')] },
    signingKey: pair.privateKey,
    certificate,
  };
}

/** A self-signed certificate authority. */
export async function createCa(subject = 'CN=m2m-token test CA,O=m2m-token tests'): Promise<TestCertificate> {
  const pair = await keys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject,
    keys: pair,
    signingAlgorithm: ALG,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
    ],
  });
  return complete(certificate, pair, subject);
}

/** A certificate issued by `ca`: for a TLS server (IP SAN `127.0.0.1`) or a TLS client. */
export async function issueCertificate(
  ca: TestCertificate,
  { subject, server = false }: { subject: string; server?: boolean },
): Promise<TestCertificate> {
  const pair = await keys();
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subject,
    publicKey: pair.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ALG,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
      ...(server
        ? [
            new x509.SubjectAlternativeNameExtension([
              { type: 'ip', value: '127.0.0.1' },
              { type: 'dns', value: 'localhost' },
            ]),
          ]
        : []),
    ],
  });
  return complete(certificate, pair, subject);
}

/** A self-signed client certificate (RFC 8705 §2.2, `self_signed_tls_client_auth`). */
export async function selfSignedCertificate(subject: string): Promise<TestCertificate> {
  const pair = await keys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject,
    keys: pair,
    signingAlgorithm: ALG,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return complete(certificate, pair, subject);
}

/** The PKI of one test file: a CA, a server certificate for 127.0.0.1, and client certificates. */
export interface TestPki {
  readonly ca: TestCertificate;
  readonly server: TestCertificate;
  /** Issued by the CA, subject `CN=mtls-client,O=m2m-token tests`. */
  readonly client: TestCertificate;
  /** Issued by the CA too, another subject: a certificate the authorization server does not register. */
  readonly otherClient: TestCertificate;
  /** Self-signed, subject `CN=mtls-self-signed,O=m2m-token tests`. */
  readonly selfSigned: TestCertificate;
}

export async function createPki(): Promise<TestPki> {
  const ca = await createCa();
  const [server, client, otherClient, selfSigned] = await Promise.all([
    issueCertificate(ca, { subject: 'CN=127.0.0.1,O=m2m-token tests', server: true }),
    issueCertificate(ca, { subject: 'CN=mtls-client,O=m2m-token tests' }),
    issueCertificate(ca, { subject: 'CN=mtls-intruder,O=m2m-token tests' }),
    selfSignedCertificate('CN=mtls-self-signed,O=m2m-token tests'),
  ]);
  return { ca, server, client, otherClient, selfSigned };
}

/** The `x5t#S256` thumbprint of a PEM or DER certificate, as a resource server computes it. */
export function x5tS256(cert: string | Buffer): string {
  return createHash('sha256').update(new NodeX509Certificate(cert).raw).digest('base64url');
}

/** The distinguishing part of a PEM (its base64 body, minus the armour): what must never leak. */
export function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
}
