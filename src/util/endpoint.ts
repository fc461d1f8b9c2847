function fail(option: string, expected: string): never {
  throw new TypeError(`m2m-token: option \`${option}\` must be ${expected}`);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Parses an endpoint URL and refuses plain `http:` unless the host is loopback or insecure HTTP was
 * allowed. Throws a `TypeError` naming `what`.
 */
export function parseEndpoint(what: string, value: string | URL, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(what, 'an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(what, 'an https: URL');
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopback(url.hostname)) {
    fail(what, 'an https: URL (http: is allowed only for loopback hosts or with `allowInsecureHttp: true`)');
  }
  if (url.hash) fail(what, 'a URL without a fragment');
  // fetch refuses such URLs anyway, and they would show up in toJSON, inspect and error messages.
  if (url.username || url.password) fail(what, 'a URL without credentials (use `clientId` and `clientSecret`)');
  return url;
}
