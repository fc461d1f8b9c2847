import { TokenError } from './errors.js';

/**
 * Loads an optional peer dependency on first use, so that users who do not need it never load it
 * (or install it). A missing package is a `CONFIG` error naming what to install.
 */
async function load<T>(name: string, feature: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    throw new TokenError('CONFIG', `${feature} needs the \`${name}\` package: npm install ${name}`, { cause: error });
  }
}

let jose: Promise<typeof import('jose')> | undefined;
let undici: Promise<typeof import('undici')> | undefined;

/** `jose`, for JWT client authentication and DPoP. */
export function loadJose(feature: string): Promise<typeof import('jose')> {
  if (jose === undefined) {
    jose = load('jose', feature, () => import('jose'));
    jose.catch(() => {
      jose = undefined;
    });
  }
  return jose;
}

/** `undici`, for mutual TLS (its `Agent` and `fetch`). */
export function loadUndici(feature: string): Promise<typeof import('undici')> {
  if (undici === undefined) {
    undici = load('undici', feature, () => import('undici'));
    undici.catch(() => {
      undici = undefined;
    });
  }
  return undici;
}
