/**
 * The origins an HTTP client integration may send tokens to: required, so that a token never goes to a
 * host nobody named. Throws `TypeError` naming `option` when it is missing, empty or holds a non-URL.
 */
export function requiredOrigins(origins: unknown, option: string): ReadonlySet<string> {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new TypeError(`m2m-token: option \`${option}\` is required: a non-empty array of the origins tokens may be sent to`);
  }
  return new Set(
    origins.map((o: unknown) => {
      try {
        if (typeof o !== 'string' && !(o instanceof URL)) throw new TypeError();
        return (o instanceof URL ? o : new URL(o)).origin;
      } catch {
        throw new TypeError(`m2m-token: option \`${option}\` has an entry that is not a URL`);
      }
    }),
  );
}

/** The origin of `url`, or undefined when it is not an absolute URL. */
export function originOrUndefined(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return (url instanceof URL ? url : new URL(url)).origin;
  } catch {
    return undefined;
  }
}
