import { TokenError } from '../errors.js';
import { withTimeout } from '../util/abort.js';

/**
 * A function that returns a credential (a client secret, a private key, a client assertion) when a
 * request needs it, synchronously or as a promise: a secret manager, a mounted file, a metadata service.
 */
export type CredentialProvider<T> = () => T | Promise<T>;

/** The rejection of a provider that did not settle within the time limit. */
const HUNG = Symbol('hung provider');

/** Counts credential changes: a request remembers the count it was sent with. */
export class CredentialVersions {
  #version = 0;

  /** How many times a provider returned a credential different from its previous one. */
  get current(): number {
    return this.#version;
  }

  /** Records a change. */
  bump(): void {
    this.#version++;
  }
}

/** How a source checks and compares what its provider returns. */
export interface SourceRules<T> {
  /** The option, named in errors. */
  readonly option: string;
  /** Checks a provided value: returns the credential, or throws {@link InvalidCredential}. */
  readonly check: (value: unknown) => T;
  /** True when two credentials are the same. @default `===` */
  readonly same?: ((a: T, b: T) => boolean) | undefined;
  /**
   * How long a provider may take, in ms (the client's `timeout`): one that has not settled by then is a
   * `CONFIG` error. @default unbounded
   */
  readonly timeout?: number | undefined;
}

/**
 * A credential that is either fixed or asked of a provider on each use. A provider that throws, or
 * returns something unusable, rejects with `TokenError` `CONFIG` (whose message never includes what it
 * returned), and is asked again on the next use. When a provider returns a credential different from
 * its previous one, `versions` counts a change and `onChange` sees the new value (to redact it).
 *
 * A provider that does not settle within `timeout` is a `CONFIG` error too, not `TIMEOUT`: `TIMEOUT`
 * says the authorization server was slow and is retried at once, while a hung provider (a secret
 * manager that never answers) is the client's own configuration failing, like a provider that throws;
 * retrying it within the same call would only multiply the wait. It is asked again on the next use.
 */
export class CredentialSource<T> {
  readonly #provider: CredentialProvider<unknown>;
  readonly #rules: SourceRules<T>;
  readonly #versions: CredentialVersions;
  readonly #onChange: ((value: T) => void)[];
  #last: T | undefined;
  /** How many times the provider was asked, and which of those asks gave {@link last}. */
  #asked = 0;
  #lastAsked = 0;

  constructor(
    provider: CredentialProvider<unknown>,
    rules: SourceRules<T>,
    versions: CredentialVersions,
    onChange: (value: T) => void = () => {},
  ) {
    this.#provider = provider;
    this.#rules = rules;
    this.#versions = versions;
    this.#onChange = [onChange];
  }

  /** The credential last returned by the provider (checked), without asking it; `undefined` before the first. */
  get last(): T | undefined {
    return this.#last;
  }

  /** Also calls `listener` with each new credential (the first one too). */
  listen(listener: (value: T) => void): void {
    this.#onChange.push(listener);
  }

  /** The current credential: the provider's answer, checked. */
  async get(): Promise<T> {
    const { option, check, same = (a: T, b: T) => a === b } = this.#rules;
    let provided: unknown;
    let value: T;
    const asked = ++this.#asked;
    try {
      provided = await this.#ask();
    } catch (error) {
      if (error === HUNG) {
        throw new TokenError(
          'CONFIG',
          `the \`${option}\` provider did not answer within the \`timeout\` option (${this.#rules.timeout} ms)`,
        );
      }
      throw new TokenError('CONFIG', `the \`${option}\` provider failed`, { cause: error });
    }
    try {
      value = check(provided);
    } catch (error) {
      if (!(error instanceof InvalidCredential)) throw error;
      throw new TokenError('CONFIG', `\`${option}\` gave ${error.message}`);
    }
    // An answer to an earlier ask that settled late (a slow read of the old files) does not undo a newer one.
    if (asked < this.#lastAsked && this.#last !== undefined) return this.#last;
    this.#lastAsked = asked;
    if (this.#last === undefined || !same(this.#last, value)) {
      if (this.#last !== undefined) this.#versions.bump();
      this.#last = value;
      for (const listener of this.#onChange) listener(value);
    }
    return value;
  }

  /** The provider's answer, within `timeout` (else a rejection with {@link HUNG}). */
  #ask(): Promise<unknown> {
    const { timeout } = this.#rules;
    // Called at once; a synchronous throw becomes a rejection.
    const asked = (async () => this.#provider())();
    return timeout === undefined ? asked : withTimeout(asked, timeout, () => HUNG);
  }
}

/** Thrown by a source's check: its message says what is wrong with a provided value, never the value. */
export class InvalidCredential extends Error {}

/** The check of a string credential: a non-empty string. */
export function checkString(value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidCredential(value === null ? 'null, not a string' : `a value of type ${typeof value}, not a string`);
  if (value === '') throw new InvalidCredential('an empty string');
  return value;
}
