/** A credential source: the provider's answers, checked, and the latest ask's answer standing. */
import { describe, expect, it } from 'vitest';
import { CredentialSource, CredentialVersions } from '../../src/protocol/credential-source.js';
import { deferred } from '../helpers/core.js';

const asString = { option: 'clientSecret', check: (value: unknown) => String(value) };

describe('CredentialSource', () => {
  it('an answer that settles after a newer one does not replace it, nor count as a change', async () => {
    const slow = deferred<string>();
    const answers = [slow.promise, Promise.resolve('new')];
    const versions = new CredentialVersions();
    const seen: string[] = [];
    const source = new CredentialSource(
      () => answers.shift()!,
      asString,
      versions,
      (value) => seen.push(value),
    );

    const first = source.get();
    expect(await source.get()).toBe('new');
    slow.resolve('old');

    expect(await first).toBe('new');
    expect(source.last).toBe('new');
    expect(seen).toEqual(['new']);
    expect(versions.current).toBe(0);
  });

  it('answers in order replace each other, each change counted', async () => {
    const answers = ['a', 'b', 'b'];
    const versions = new CredentialVersions();
    const source = new CredentialSource(() => answers.shift()!, asString, versions);
    expect([await source.get(), await source.get(), await source.get()]).toEqual(['a', 'b', 'b']);
    expect(source.last).toBe('b');
    expect(versions.current).toBe(1);
  });
});
