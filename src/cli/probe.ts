/**
 * `m2m-token doctor`'s first check: can a connection be opened to the endpoint, and is its TLS
 * certificate trusted for that host name? Node's error codes are turned into a likely cause and fix.
 * @module
 */
import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** The result of {@link probe}: a connection, or the error code and message that prevented one. */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Opens (and closes) a TCP connection to the URL's host and port, with a TLS handshake for `https:`
 * verified as `fetch` verifies it (Node's CAs plus `NODE_EXTRA_CA_CERTS`, or `ca` instead when given).
 */
export function probe(url: URL, { ca, timeout }: { ca?: string | undefined; timeout: number }): Promise<ProbeResult> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  return new Promise((resolve) => {
    const socket = https
      ? connectTls({ host, port, servername: isIP(host) === 0 ? host : undefined, ca, ALPNProtocols: ['http/1.1'] }, () =>
          done({ ok: true }),
        )
      : connectTcp({ host, port }, () => done({ ok: true }));
    const timer = setTimeout(() => done({ ok: false, code: 'TIMEOUT', message: `no connection within ${timeout} ms` }), timeout);
    socket.on('error', (error: NodeJS.ErrnoException) => done({ ok: false, code: error.code ?? 'ERROR', message: error.message }));
    function done(result: ProbeResult) {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
  });
}

const SELF_SIGNED = ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN'];
const UNKNOWN_ISSUER = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT'];
const TRUST_CA =
  'trust the CA that issued it: NODE_EXTRA_CA_CERTS=/path/to/ca.pem (or --ca-file with mutual TLS); do not turn verification off';

/** What a failed {@link probe} most likely means, and what to do about it. */
export function probeHint(code: string, url: URL, mtls: boolean): { saw: string; hint: string } {
  const where = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  if (SELF_SIGNED.includes(code))
    return {
      saw: `TLS certificate not trusted: self-signed (${code})`,
      hint: `the server uses a self-signed certificate or a private CA: ${TRUST_CA}`,
    };
  if (UNKNOWN_ISSUER.includes(code)) {
    return {
      saw: `TLS certificate not trusted: unknown issuer (${code})`,
      hint: `the certificate was issued by a CA Node does not know (a corporate or private CA), or the server does not send its intermediate certificate: ${TRUST_CA}`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED')
    return {
      saw: `TLS certificate expired (${code})`,
      hint: "the server certificate has expired: it must be renewed on the server (or this machine's clock is far off)",
    };
  if (code === 'CERT_NOT_YET_VALID')
    return { saw: `TLS certificate not yet valid (${code})`, hint: "check this machine's clock (NTP), or the certificate's start date" };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      saw: `TLS certificate is not for ${url.hostname} (${code})`,
      hint: 'wrong host name: use the host name the certificate is issued for (not an IP address or an internal alias)',
    };
  }
  if (code === 'ECONNREFUSED')
    return {
      saw: `connection refused by ${where} (${code})`,
      hint: 'nothing listens there: check the host and port of the URL, and that the server is running',
    };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { saw: `host ${url.hostname} not found (${code})`, hint: 'the host name does not resolve: check its spelling, DNS or VPN' };
  if (code === 'TIMEOUT' || code === 'ETIMEDOUT')
    return {
      saw: `no connection to ${where} in time (${code})`,
      hint: 'a firewall drops the traffic, or the network needs a proxy (see the proxy check)',
    };
  if (code === 'ECONNRESET' || code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return {
      saw: `connection to ${where} broken during setup (${code})`,
      hint: 'https: on a plain HTTP port (or the reverse), or a middlebox resets TLS: check the scheme and port',
    };
  }
  return {
    saw: `cannot connect to ${where} (${code})`,
    hint: mtls ? 'check the URL and the client certificate' : 'check the URL and the network path to the server',
  };
}
