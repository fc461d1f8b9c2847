/**
 * Replaces each of `secrets` in text with `[REDACTED]`, longest first: a hostile or careless server, or a
 * custom `fetch`, that echoes the request (the client secret, the Basic credential) must not put them in
 * error messages, which end up in logs.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret !== '') clean = clean.replaceAll(secret, '[REDACTED]');
  }
  return clean;
}

const MAX_DEPTH = 5;

/**
 * A copy of `error` safe to keep as a `cause`: name, message, stack and the usual Node.js fields (`code`,
 * `errno`, `syscall`) with `secrets` redacted, and its own `cause` chain (and `errors` of an
 * `AggregateError`) copied the same way, a few levels deep. The raw error is not kept: `util.inspect`,
 * loggers and `diagnostics_channel` subscribers walk the whole chain.
 */
export function redactError(error: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof error !== 'object' || error === null) {
    return typeof error === 'string' ? redact(error, secrets) : error;
  }
  const source = error as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown; errors?: unknown };
  const message = typeof source.message === 'string' ? redact(source.message, secrets) : 'unknown error';
  const copy = new Error(message) as Error & Record<string, unknown>;
  copy.name = typeof source.name === 'string' ? source.name : 'Error';
  copy.stack = typeof source.stack === 'string' ? redact(source.stack, secrets) : `${copy.name}: ${message}`;
  for (const field of ['code', 'errno', 'syscall']) {
    const value = (error as Record<string, unknown>)[field];
    if (typeof value === 'string' || typeof value === 'number') copy[field] = typeof value === 'string' ? redact(value, secrets) : value;
  }
  if (depth < MAX_DEPTH && source.cause !== undefined) copy.cause = redactError(source.cause, secrets, depth + 1);
  if (depth < MAX_DEPTH && Array.isArray(source.errors)) copy.errors = source.errors.map((e) => redactError(e, secrets, depth + 1));
  return copy;
}
