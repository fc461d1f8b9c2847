/**
 * The publish/subscribe half of `RedisTokenStore`: fleet-wide invalidation on a second connection.
 * @module
 */
import type { InvalidationListener } from './store.js';

/** A message listener of a {@link RedisSubscriberLike}. */
export type RedisMessageListener = (channel: string, message: string) => void;

/**
 * A Redis connection for publish/subscribe, as `ioredis` provides it (`redis.duplicate()`): once it has
 * subscribed, a connection can only run subscription commands, hence a second one.
 */
export interface RedisSubscriberLike {
  /** `SUBSCRIBE channel`. */
  subscribe(channel: string): Promise<unknown>;
  /** `UNSUBSCRIBE channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Listens to `message` events: `(channel, message)` for each message of a subscribed channel. */
  on(event: 'message', listener: RedisMessageListener): unknown;
  /** Removes a listener added with `on`. */
  removeListener(event: 'message', listener: RedisMessageListener): unknown;
}

/** A fingerprint as `tokenFingerprint` makes it: SHA-256, base64url, no padding. */
const FINGERPRINT = /^[A-Za-z0-9_-]{43}$/;

/** Throws the TypeError naming `subscriber` when it is not a usable second connection. */
export function checkSubscriber(subscriber: unknown, client: unknown): asserts subscriber is RedisSubscriberLike {
  const methods = ['subscribe', 'unsubscribe', 'on', 'removeListener'];
  if (methods.some((m) => typeof (subscriber as Record<string, unknown> | null)?.[m] !== 'function')) {
    throw new TypeError('m2m-token: option `subscriber` must be a Redis connection for publish/subscribe (ioredis `redis.duplicate()`)');
  }
  if (subscriber === client) {
    throw new TypeError('m2m-token: option `subscriber` must be a second connection (`redis.duplicate()`), not `client` itself');
  }
}

/** Runs a subscription command without waiting: its failure is no one's (delivery is at most once). */
function quietly(command: () => unknown): void {
  try {
    Promise.resolve(command()).catch(() => {});
  } catch {
    // as rejected
  }
}

/**
 * The invalidation listeners of one store on its `subscriber` connection: SUBSCRIBE to `channel` with
 * the first listener, UNSUBSCRIBE when the last is removed; each message `<key> <fingerprint>` is
 * handed to every listener, anything else ignored.
 */
export class RedisInvalidations {
  readonly #subscriber: RedisSubscriberLike;
  readonly #channel: string;
  /** One wrapper per subscription, so that one function subscribed twice is removed once per call. */
  readonly #listeners = new Set<{ listener: InvalidationListener }>();

  constructor(subscriber: RedisSubscriberLike, channel: string) {
    this.#subscriber = subscriber;
    this.#channel = channel;
  }

  /** Adds `listener`; returns the function that removes it. */
  subscribe(listener: InvalidationListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('m2m-token: onInvalidate() takes a function');
    const subscriber = this.#subscriber;
    const subscription = { listener };
    this.#listeners.add(subscription);
    if (this.#listeners.size === 1) {
      subscriber.on('message', this.#onMessage);
      quietly(() => subscriber.subscribe(this.#channel));
    }
    return () => {
      if (!this.#listeners.delete(subscription) || this.#listeners.size > 0) return;
      subscriber.removeListener('message', this.#onMessage);
      quietly(() => subscriber.unsubscribe(this.#channel));
    };
  }

  readonly #onMessage = (channel: unknown, message: unknown): void => {
    if (channel !== this.#channel || typeof message !== 'string') return;
    const space = message.lastIndexOf(' ');
    const key = message.slice(0, space);
    const fingerprint = message.slice(space + 1);
    if (space < 1 || !FINGERPRINT.test(fingerprint)) return;
    for (const { listener } of [...this.#listeners]) {
      try {
        listener(key, fingerprint);
      } catch {
        // A listener's failure is its own: the others are still told, the connection is unaffected.
      }
    }
  };
}
