/**
 * `node:crypto`, loaded on first use instead of at import: loading it is a few ms of a process's start,
 * and a client needs it only for a shared store, JWT client authentication, DPoP, mutual TLS or token
 * fingerprints in events. Import its types with `import type`; call its functions through this.
 */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}
