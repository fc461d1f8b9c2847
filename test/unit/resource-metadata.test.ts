/** The stateless pieces of RFC 9728: where metadata is, which resource covers a URL, which server is chosen. */
import { describe, expect, it } from 'vitest';
import {
  chooseAuthorizationServer,
  resourceCovers,
  resourceMetadataHint,
  resourceMetadataUrls,
} from '../../src/protocol/resource-metadata.js';
import { parseWwwAuthenticate } from '../../src/protocol/www-authenticate.js';
import { ClientCredentialsClient } from '../../src/index.js';

describe('protected resource metadata', () => {
  it('inserts the well-known segment before the path (RFC 9728 §3.1), then tries the root', () => {
    expect(resourceMetadataUrls(new URL('https://rs.example.com/mcp?x=1')).map(String)).toEqual([
      'https://rs.example.com/.well-known/oauth-protected-resource/mcp',
      'https://rs.example.com/.well-known/oauth-protected-resource',
    ]);
    expect(resourceMetadataUrls(new URL('https://rs.example.com/')).map(String)).toEqual([
      'https://rs.example.com/.well-known/oauth-protected-resource',
    ]);
  });

  it.each([
    ['https://api.example.com/v1', 'https://api.example.com/v1/orders', true],
    ['https://api.example.com/v1', 'https://api.example.com/v1', true],
    ['https://api.example.com', 'https://api.example.com/anything', true],
    ['https://api.example.com/v1', 'https://api.example.com/v10', false],
    ['https://api.example.com/v1/orders', 'https://api.example.com/v1', false],
    ['https://api.example.com:8443/v1', 'https://api.example.com/v1', false],
    ['http://api.example.com/v1', 'https://api.example.com/v1', false],
    ['https://api.example.com/v1#x', 'https://api.example.com/v1', false],
    ['not a url', 'https://api.example.com/v1', false],
  ])('resource %s covers %s: %s', (resource, url, covers) => {
    expect(resourceCovers(resource, new URL(url))).toBe(covers);
  });

  it('compares issuer identifiers exactly and takes the first allowed one', () => {
    const allowed = new Set(['https://as.example.com', 'https://as2.example.com']);
    expect(
      chooseAuthorizationServer(
        { resource: 'r', authorization_servers: ['https://evil.example.com', 'https://as2.example.com', 'https://as.example.com'] },
        allowed,
      ),
    ).toBe('https://as2.example.com');
    for (const names of [['https://as.example.com/'], ['https://AS.example.com'], [], undefined]) {
      expect(() => chooseAuthorizationServer({ resource: 'r', authorization_servers: names }, allowed)).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
    }
  });

  it('takes a resource_metadata hint only from a Bearer or DPoP challenge, on the origin of the request', () => {
    const url = new URL('https://rs.example.com/mcp');
    const hint = (header: string) => resourceMetadataHint(parseWwwAuthenticate(header), url, false);
    expect(hint('Bearer resource_metadata="https://rs.example.com/prm"')?.href).toBe('https://rs.example.com/prm');
    expect(hint('DPoP resource_metadata="https://rs.example.com/prm"')?.href).toBe('https://rs.example.com/prm');
    expect(hint('Basic resource_metadata="https://rs.example.com/prm"')).toBeUndefined();
    expect(() => hint('Bearer resource_metadata="https://other.example.com/prm"')).toThrow(
      expect.objectContaining({ code: 'INVALID_RESPONSE' }),
    );
    expect(() => hint('Bearer resource_metadata="http://rs.example.com/prm"')).toThrow(
      expect.objectContaining({ code: 'INVALID_RESPONSE' }),
    );
  });

  it('validates the resourceDiscovery option, naming what is wrong', () => {
    const make = (resourceDiscovery: unknown) =>
      new ClientCredentialsClient({ clientId: 'a', resourceDiscovery: resourceDiscovery as never });
    expect(() => make({ authorizationServers: ['https://as.example.com'], maxResource: 3 })).toThrow(/resourceDiscovery\.maxResource/);
    expect(() => make({ authorizationServers: ['http://as.example.com'] })).toThrow(/resourceDiscovery\.authorizationServers/);
    expect(() => make({ authorizationServers: [42] })).toThrow(/resourceDiscovery\.authorizationServers/);
    expect(() => make({ authorizationServers: ['https://as.example.com'], maxResources: 0 })).toThrow(/resourceDiscovery\.maxResources/);
    expect(() => make('yes')).toThrow(/`resourceDiscovery`/);
    expect(() => new ClientCredentialsClient({ clientId: 'a' })).toThrow(/tokenEndpoint/);
    expect(() => make({ authorizationServers: ['https://as.example.com'] })).not.toThrow();
  });
});
