import { TokenError } from '../errors.js';

const loading = new Map<string, Promise<unknown>>();

/**
 * Loads an optional peer dependency on first use, so that users who do not need it never load it
 * (or install it). A missing package is a `CONFIG` error naming what to install; a failed load is
 * forgotten, so that a later call tries again.
 */
function loadOnce<T>(name: string, feature: string, importer: () => Promise<T>): Promise<T> {
  let module = loading.get(name) as Promise<T> | undefined;
  if (module === undefined) {
    module = importer().catch((error: unknown) => {
      loading.delete(name);
      throw new TokenError('CONFIG', `${feature} needs the \`${name}\` package: npm install ${name}`, { cause: error });
    });
    loading.set(name, module);
  }
  return module;
}

/** `jose`, for JWT client authentication and DPoP. */
export function loadJose(feature: string): Promise<typeof import('jose')> {
  return loadOnce('jose', feature, () => import('jose'));
}

/** `undici`, for mutual TLS (its `Agent` and `fetch`). */
export function loadUndici(feature: string): Promise<typeof import('undici')> {
  return loadOnce('undici', feature, () => import('undici'));
}
