/**
 * The global setup's decision (test/setup/redis-binaries.ts), on made-up machines: a temporary directory
 * as the whole `PATH`, with fake executables (or plain files) in it, and root or not.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOnPath, INSTALL_HINT, installFailed, planRedis } from './redis-binaries.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'm2m-redis-plan-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Creates `dir/name` (a directory under the temporary root): executable unless `mode` says otherwise. */
function file(dir: string, name: string, mode = 0o755): string {
  const path = join(root, dir, name);
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, mode);
  return path;
}

const pathOf = (...dirs: string[]) => dirs.map((dir) => join(root, dir)).join(delimiter);
const asRoot = { isRoot: true };
const asUser = { isRoot: false };

describe('findOnPath', () => {
  it('returns the first executable of that name in PATH order, skipping non-executable files and directories', () => {
    file('a', 'redis-server', 0o644);
    mkdirSync(join(root, 'b', 'redis-server'), { recursive: true });
    const wanted = file('c', 'redis-server');
    file('d', 'redis-server');

    expect(findOnPath('redis-server', pathOf('a', 'b', 'c', 'd'))).toBe(wanted);
  });

  it('ignores empty and relative PATH entries, and finds nothing in an unset PATH', () => {
    file('a', 'redis-server');
    // A relative entry that does lead to an executable from the working directory.
    const relativeEntry = relative(process.cwd(), join(root, 'a'));
    expect(findOnPath('redis-server', ['', relativeEntry, join(root, 'missing')].join(delimiter))).toBeUndefined();
    expect(findOnPath('redis-server', undefined)).toBeUndefined();
  });
});

describe('planRedis', () => {
  it('uses redis-server from PATH with the redis-cli next to it', () => {
    const server = file('bin', 'redis-server');
    const cli = file('bin', 'redis-cli');
    file('later', 'redis-cli');

    expect(planRedis({ PATH: pathOf('bin', 'later') }, asUser)).toEqual({ action: 'use', binaries: { server, cli } });
  });

  it('takes redis-cli from PATH when there is none next to redis-server', () => {
    const server = file('server', 'redis-server');
    const cli = file('tools', 'redis-cli');

    expect(planRedis({ PATH: pathOf('server', 'tools') }, asUser)).toEqual({ action: 'use', binaries: { server, cli } });
  });

  it('prefers REDIS_SERVER to PATH, and the redis-cli next to it', () => {
    file('bin', 'redis-server');
    file('bin', 'redis-cli');
    const server = file('custom', 'redis-server');
    const cli = file('custom', 'redis-cli');

    expect(planRedis({ PATH: pathOf('bin'), REDIS_SERVER: server }, asUser)).toEqual({ action: 'use', binaries: { server, cli } });
  });

  it('stops on a REDIS_SERVER that is not executable, naming it, even as root with apt-get (no install over a user choice)', () => {
    file('bin', 'apt-get');
    const server = file('custom', 'redis-server', 0o644);

    const plan = planRedis({ PATH: pathOf('bin'), REDIS_SERVER: server }, asRoot);

    expect(plan).toEqual({ action: 'fail', message: expect.stringContaining(`REDIS_SERVER=${server} is not an executable file`) });
  });

  it('installs when redis-server is missing, as root, with apt-get on PATH', () => {
    file('bin', 'apt-get');
    expect(planRedis({ PATH: pathOf('bin') }, asRoot)).toEqual({ action: 'install' });
  });

  it('installs when redis-server is there but redis-cli is not (the package brings both)', () => {
    file('bin', 'apt-get');
    file('bin', 'redis-server');
    expect(planRedis({ PATH: pathOf('bin') }, asRoot)).toEqual({ action: 'install' });
  });

  it.each([
    ['not root', { PATH: 'bin' }, asUser, 'do not run as root'],
    ['no apt-get', { PATH: 'empty' }, asRoot, 'no apt-get'],
    ['still missing after the install', { PATH: 'bin' }, { isRoot: true, installed: true }, 'even after installing'],
  ])('stops when it cannot install (%s), saying why and how to install it by hand', (_, env, host, why) => {
    file('bin', 'apt-get');
    mkdirSync(join(root, 'empty'));

    const plan = planRedis({ PATH: pathOf(env.PATH) }, host);

    expect(plan.action).toBe('fail');
    const { message } = plan as { message: string };
    expect(message).toContain('redis-server not found on PATH');
    expect(message).toContain(why);
    expect(message).toContain('sudo apt-get install redis-server');
    expect(message).toContain('REDIS_SERVER=/path/to/redis-server');
  });

  it('a failed installation is a failure that carries what apt-get said', () => {
    expect(installFailed('apt-get update -qq: exit code 100\nE: no network')).toEqual({
      action: 'fail',
      message: expect.stringMatching(
        /installing the Debian package redis-server failed: apt-get update -qq: exit code 100\nE: no network\n.*sudo apt-get install redis-server/s,
      ),
    });
    expect(INSTALL_HINT).toContain('REDIS_SERVER=/path/to/redis-server');
  });
});
