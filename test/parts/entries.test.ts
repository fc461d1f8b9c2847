/** The entries map of a client: cache keys, the default entry, the bounded LRU and pinned entries. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { cacheKey, TokenEntries } from '../../src/cache/entries.js';
import type { TokenParams } from '../../src/token.js';
import { entryUnderTest } from './support.js';

const params = (scope: string[], resource: string[] = [], audience?: string): TokenParams => ({ scope, audience, resource });

function entriesOf(capacity: number, defaults: TokenParams = params(['default'])) {
  const { context } = entryUnderTest();
  return new TokenEntries(defaults, capacity, context);
}

describe('cacheKey', () => {
  it('treats scope and resource as sets and keeps the audience', () => {
    expect(cacheKey(params(['b', 'a'], ['r2', 'r1'], 'aud'))).toBe(cacheKey(params(['a', 'b'], ['r1', 'r2'], 'aud')));
    expect(cacheKey(params(['a'], [], 'x'))).not.toBe(cacheKey(params(['a'], [], 'y')));
    expect(cacheKey(params(['a'], [], undefined))).not.toBe(cacheKey(params(['a'], [], 'null')));
    expect(cacheKey(params(['a'], ['r']))).not.toBe(cacheKey(params(['a', 'r'])));
    expect(cacheKey(params(['a'], ['r1']))).not.toBe(cacheKey(params(['a'], ['r2'])));
  });

  it('adds a discovered server (issuer, token endpoint, DPoP key) and leaves the own server’s key as it was', () => {
    const own = params(['a']);
    expect(cacheKey(own)).toBe(JSON.stringify([['a'], null, []]));
    const server = { issuer: 'https://as.example', tokenEndpoint: new URL('https://as.example/token') };
    const keyed = cacheKey({ ...own, server });
    expect(keyed).toBe(JSON.stringify([['a'], null, [], ['https://as.example', 'https://as.example/token', null]]));
    expect(cacheKey({ ...own, server: { ...server, dpop: 'jkt' } })).not.toBe(keyed);
  });
});

describe('TokenEntries', () => {
  it('answers the default parameters, in any order, with the default entry', () => {
    const entries = entriesOf(2, params(['x', 'y']));
    expect(entries.get(params(['y', 'x']))).toBe(entries.default);
    expect(entries.pin(params(['y', 'x']), {})).toBe(entries.default);
  });

  it('keeps one entry per key and evicts the least recently used beyond its capacity', () => {
    const entries = entriesOf(2);
    const a = entries.get(params(['a']));
    const b = entries.get(params(['b']));
    expect(entries.get(params(['a']))).toBe(a); // a is now the most recently used
    entries.get(params(['c']));
    expect([...entries].map((e) => e.key)).toEqual([entries.default.key, cacheKey(params(['a'])), cacheKey(params(['c']))]);
    expect(entries.get(params(['b']))).not.toBe(b);
  });

  it('never evicts a pinned entry, and pinning takes an existing entry out of the LRU', () => {
    const entries = entriesOf(1);
    const a = entries.get(params(['a']));
    const holder = {};
    expect(entries.pin(params(['a']), holder)).toBe(a);
    expect(entries.pin(params(['a']), {})).toBe(a);
    for (const scope of ['b', 'c', 'd']) entries.get(params([scope]));
    expect(entries.get(params(['a']))).toBe(a);
    expect([...entries].map((e) => e.key)).toEqual([entries.default.key, cacheKey(params(['a'])), cacheKey(params(['d']))]);
  });

  it('returns an entry to the LRU once every holder that pinned it is garbage-collected, and not before', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collect = async () => {
      for (let i = 0; i < 20; i++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
    };
    const entries = entriesOf(1);
    let first: object | undefined = {};
    let second: object | undefined = {};
    const a = entries.pin(params(['a']), first);
    entries.pin(params(['a']), second);
    // With capacity 1, a new key evicts whatever else sits in the LRU; a pinned entry survives it.
    const evicted = () => {
      entries.get(params([`probe-${Math.random()}`]));
      return entries.get(params(['a'])) !== a;
    };
    first = undefined;
    await collect();
    expect(evicted()).toBe(false);
    second = undefined;
    await collect();
    // Back in the LRU: still there, and evicted by the next key.
    expect(entries.get(params(['a']))).toBe(a);
    expect(evicted()).toBe(true);
  });
});
