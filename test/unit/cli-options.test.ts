/**
 * The command line's client options, in process: flags and `M2M_*` variables to library options, empty
 * variables as unset, and library option names in messages rewritten to flag names.
 */
import { describe, expect, it } from 'vitest';
import { clientOptions, envVar, flagMessage, type Io, UsageError } from '../../src/cli/options.js';

const io = (env: Record<string, string>, stdin = ''): Io => ({ out: () => {}, err: () => {}, env, stdin: () => stdin, now: () => 0 });
const base = { M2M_TOKEN_ENDPOINT: 'https://as.example/token', M2M_CLIENT_ID: 'svc' };

describe('clientOptions', () => {
  it('reads every M2M_* variable', () => {
    const options = clientOptions(
      {},
      io({
        ...base,
        M2M_ISSUER: 'https://as.example',
        M2M_REVOCATION_ENDPOINT: 'https://as.example/revoke',
        M2M_CLIENT_SECRET: 's',
        M2M_CLIENT_AUTH: 'client_secret_post',
        M2M_SCOPE: 'a  b',
        M2M_AUDIENCE: 'aud',
        M2M_RESOURCE: 'r1 r2',
        M2M_TIMEOUT: '500',
      }),
    );
    expect(options).toMatchObject({
      tokenEndpoint: base.M2M_TOKEN_ENDPOINT,
      issuer: 'https://as.example',
      revocationEndpoint: 'https://as.example/revoke',
      clientId: 'svc',
      clientSecret: 's',
      clientAuth: 'client_secret_post',
      scope: ['a', 'b'],
      audience: 'aud',
      resource: ['r1', 'r2'],
      timeout: 500,
    });
  });

  it('flags win over variables', () => {
    const options = clientOptions({ 'client-id': 'flag', scope: ['x'] }, io({ ...base, M2M_SCOPE: 'y' }));
    expect(options).toMatchObject({ clientId: 'flag', scope: ['x'] });
  });

  it('an empty variable counts as unset', () => {
    expect(envVar({ A: '' }, 'A')).toBeUndefined();
    const options = clientOptions(
      {},
      io({ ...base, M2M_ISSUER: '', M2M_CLIENT_SECRET: '', M2M_SCOPE: '', M2M_AUDIENCE: '', M2M_CLIENT_AUTH: '' }),
    );
    expect(options).toMatchObject({ issuer: undefined, scope: undefined, audience: undefined, clientAuth: undefined });
    // No secret is no key at all: the library refuses a present-but-undefined one.
    expect('clientSecret' in options).toBe(false);
  });

  it('--client-secret-stdin takes the secret without its final line break, and refuses empty input', () => {
    expect(clientOptions({ 'client-secret-stdin': true }, io(base, 's3cret\r\n')).clientSecret).toBe('s3cret');
    expect(() => clientOptions({ 'client-secret-stdin': true }, io(base, '\n'))).toThrow(UsageError);
  });

  it('refuses --client-secret, a missing client id or endpoint, and a non-numeric --timeout', () => {
    expect(() => clientOptions({ 'client-secret': 'x' }, io(base))).toThrow(/M2M_CLIENT_SECRET/);
    expect(() => clientOptions({}, io({ M2M_TOKEN_ENDPOINT: base.M2M_TOKEN_ENDPOINT }))).toThrow(/missing client id/);
    expect(() => clientOptions({}, io({ M2M_CLIENT_ID: 'svc' }))).toThrow(/missing endpoint/);
    expect(() => clientOptions({ timeout: '1e3' }, io(base))).toThrow(/--timeout must be a positive integer/);
  });
});

describe('flagMessage', () => {
  it.each([
    ['m2m-token: option `clientId` must be a non-empty string', '--client-id must be a non-empty string'],
    ['m2m-token: option `tokenEndpoint` must be an absolute URL', '--token-endpoint must be an absolute URL'],
    [
      'm2m-token: option `issuer` must be an https: URL (http: is allowed only for loopback hosts or with `allowInsecureHttp: true`)',
      '--issuer must be an https: URL (http: is allowed only for loopback hosts or with --allow-insecure-http)',
    ],
    [
      'm2m-token: option `privateKey` must be set for clientAuth private_key_jwt',
      '--private-key-file must be set for --client-auth private_key_jwt',
    ],
    [
      'm2m-token: option `clientSecret` must be set for clientAuth client_secret_basic',
      'M2M_CLIENT_SECRET (or --client-secret-stdin) must be set for --client-auth client_secret_basic',
    ],
    [
      'm2m-token: option `tls.key` is not the private key of the `tls.cert` certificate',
      '--key-file is not the private key of the --cert-file certificate',
    ],
    [
      'm2m-token: algorithm RS256 does not fit the ec key of `privateKey` (use ES256)',
      '--alg RS256 does not fit the ec key of --private-key-file (use ES256)',
    ],
  ])('%s', (library, cli) => {
    expect(flagMessage(library)).toBe(cli);
  });
});
