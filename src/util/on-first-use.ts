/**
 * `build`, called on first use and remembered: building a zod schema takes a few ms at first, which a
 * process that only imports m2m-token (or never sees an error, or discovers nothing) should not pay.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
}
