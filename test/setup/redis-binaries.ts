/**
 * Where the tests' `redis-server` and `redis-cli` are, and what to do when they are missing: the decision
 * of the global setup (test/setup/redis-server.ts), kept apart from it so that it can be tested with a
 * made-up `PATH` and a made-up user.
 *
 * - `REDIS_SERVER` (a path), when set, is the server; otherwise the first `redis-server` on `PATH`.
 * - `redis-cli` (for `--cluster create`) is the one next to that server, otherwise the first on `PATH`.
 * - Missing, they are installed (the Debian package `redis-server`, which brings `redis-cli`) only when
 *   the tests run as root with `apt-get` and `REDIS_SERVER` is unset; in every other case the run stops
 *   with one message that says how to install them.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';

/** The paths of the binaries the Redis tests start. */
export interface RedisBinaries {
  /** Absolute path of `redis-server`. */
  readonly server: string;
  /** Absolute path of `redis-cli`. */
  readonly cli: string;
}

/** What the global setup does: use the binaries found, install the Debian package, or stop the run. */
export type RedisPlan =
  | { readonly action: 'use'; readonly binaries: RedisBinaries }
  | { readonly action: 'install' }
  | { readonly action: 'fail'; readonly message: string };

/** The facts {@link planRedis} decides on, besides the environment. */
export interface RedisHost {
  /** Whether the process runs as root (uid 0). */
  readonly isRoot: boolean;
  /** Set after an installation attempt: then a binary still missing is a failure, never a second install. */
  readonly installed?: boolean;
}

/** How to get the binaries by hand; every failure message ends with it. */
export const INSTALL_HINT =
  'Install Redis with `sudo apt-get install redis-server` (Debian/Ubuntu; it brings redis-cli), or set REDIS_SERVER=/path/to/redis-server (with redis-cli next to it or on PATH).';

/** The one line printed before installing. */
export const INSTALL_NOTICE = 'm2m-token tests: redis-server not found; installing the Debian package redis-server (apt-get)…';

/** Whether `path` is a regular file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the directories of `pathVariable` (a `PATH` value), or `undefined`. */
export function findOnPath(name: string, pathVariable: string | undefined): string | undefined {
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    // An empty or relative entry would depend on the working directory: not where a test binary lives.
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Decides, from `env` (`REDIS_SERVER`, `PATH`) and `host`, whether the Redis tests can use binaries
 * already there, should install the Debian package first, or cannot run (with the message to show).
 * Reads the file system; changes nothing.
 */
export function planRedis(env: NodeJS.ProcessEnv, host: RedisHost): RedisPlan {
  const configured = env.REDIS_SERVER;
  if (configured !== undefined && configured !== '') {
    // Set by the user: used as it is, or the run stops; never replaced by an installed package.
    const server = resolve(configured);
    if (!isExecutable(server)) return fail(`REDIS_SERVER=${configured} is not an executable file.`);
    const cli = besideOrOnPath(server, env.PATH);
    if (cli === undefined) return fail(`redis-cli not found next to REDIS_SERVER=${configured} nor on PATH.`);
    return { action: 'use', binaries: { server, cli } };
  }

  const server = findOnPath('redis-server', env.PATH);
  const cli = server === undefined ? undefined : besideOrOnPath(server, env.PATH);
  if (server !== undefined && cli !== undefined) return { action: 'use', binaries: { server, cli } };

  const missing = server === undefined ? 'redis-server not found on PATH' : `redis-cli not found next to ${server} nor on PATH`;
  if (host.installed) return fail(`${missing}, even after installing the Debian package redis-server.`);
  if (!host.isRoot) return fail(`${missing}, and the tests do not run as root, so they cannot install it.`);
  if (findOnPath('apt-get', env.PATH) === undefined) return fail(`${missing}, and there is no apt-get to install it with.`);
  return { action: 'install' };
}

/** The failure message when installing did not work (`reason`: what went wrong, e.g. apt-get's last lines). */
export function installFailed(reason: string): RedisPlan {
  return fail(`redis-server not found, and installing the Debian package redis-server failed: ${reason}`);
}

function besideOrOnPath(server: string, pathVariable: string | undefined): string | undefined {
  const beside = join(dirname(server), 'redis-cli');
  return isExecutable(beside) ? beside : findOnPath('redis-cli', pathVariable);
}

function fail(problem: string): RedisPlan {
  return { action: 'fail', message: `m2m-token tests need redis-server: ${problem}\n${INSTALL_HINT}` };
}
