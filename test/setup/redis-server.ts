/**
 * Vitest global setup: makes sure `redis-server` and `redis-cli` exist before any test runs, once per run,
 * and hands their paths to the test files (`inject('redisBinaries')`, read by test/helpers/redis.ts).
 *
 * Found (`REDIS_SERVER`, else `PATH`): used. Missing, as root on Debian/Ubuntu: the package
 * `redis-server` is installed with apt-get (one line says so), and the server the package starts is
 * stopped again, since the tests start their own on free loopback ports. Missing otherwise, or when the
 * installation fails: the whole run stops with one message naming the command to install it.
 */
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { INSTALL_NOTICE, installFailed, planRedis, type RedisBinaries } from './redis-binaries.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where `redis-server` and `redis-cli` are (test/setup/redis-server.ts). */
    redisBinaries: RedisBinaries;
  }
}

/** apt-get may download for a while on a slow mirror; still, nothing waits forever. */
const APT_TIMEOUT = 10 * 60_000;

export default function setup(project: TestProject): void {
  let plan = planRedis(process.env, { isRoot: process.getuid?.() === 0 });
  if (plan.action === 'install') {
    console.log(INSTALL_NOTICE);
    const problem = installDebianPackage();
    plan = problem === undefined ? planRedis(process.env, { isRoot: true, installed: true }) : installFailed(problem);
  }
  if (plan.action !== 'use') {
    // Thrown, an error here would reach the console after vitest's misleading "No test files found" and
    // its filters: the message alone, and the run ends before any worker starts.
    process.stderr.write(
      `\n${plan.action === 'fail' ? plan.message : 'm2m-token tests: redis-server still missing after installing it.'}\n\n`,
    );
    process.exit(1);
  }
  project.provide('redisBinaries', plan.binaries);
}

/** Installs the Debian package; `undefined` when apt-get succeeded, else what went wrong. */
function installDebianPackage(): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'redis-server'],
  ]) {
    const run = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: APT_TIMEOUT });
    if (run.error !== undefined || run.status !== 0) {
      const outcome = run.error?.message ?? (run.signal === null ? `exit code ${run.status}` : `signal ${run.signal}`);
      const output = `${run.stderr ?? ''}${run.stdout ?? ''}`.trim().split('\n').slice(-5).join('\n');
      return `apt-get ${args.join(' ')}: ${outcome}${output === '' ? '' : `\n${output}`}`;
    }
  }
  // The package starts a server on port 6379 (where the init system allows it). Not ours: stop it.
  spawnSync('service', ['redis-server', 'stop'], { env, stdio: 'ignore', timeout: 60_000 });
  return undefined;
}
