/**
 * Django OAuth Toolkit (DOT) as a real third-party authorization server: finds a Python that can import
 * it (installing the Debian package when missing and running as root), migrates a throwaway SQLite
 * database, creates the test's applications, and serves the Django project in `dot/` with the standard
 * library's WSGI server on 127.0.0.1 and a port the OS picks. Every wait is bounded; `stop()` never throws.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_DIR = fileURLToPath(new URL('./dot/', import.meta.url));
const DEBIAN_PACKAGE = 'python3-django-oauth-toolkit';
const INSTALL_HINT =
  `Django OAuth Toolkit is not installed (no python3 can import oauth2_provider). Install it with ` +
  `\`sudo apt-get install -y ${DEBIAN_PACKAGE}\`, or \`pip install django-oauth-toolkit\` and set ` +
  `M2M_INTEROP_PYTHON to that python, then run \`npm run test:interop\` again.`;

/** An application registered at DOT, with its plain secret (DOT 2+ keeps only a hash). */
export interface DotClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** What the tests need to know about the running server; plain data, handed to the test workers. */
export interface DotServerInfo {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly versions: { readonly dot: string; readonly django: string; readonly oauthlib: string };
  readonly clients: {
    /** A client with a random URL-safe secret. */
    readonly main: DotClient;
    /** A second client, to show what DOT lets one client do with another's tokens. */
    readonly other: DotClient;
    /** A client whose secret holds the RFC 6749 §2.3.1 special characters `: @ + % & = / " ? ~` and a space. */
    readonly special: DotClient;
    /** The resource server's application, which authenticates to the introspection endpoint. */
    readonly introspector: DotClient;
  };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `ms`), optionally writing `input` to its stdin. */
function run(
  command: string,
  args: string[],
  options: { input?: string; ms: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.ms} ms)`;
      child.kill('SIGKILL');
    }, options.ms);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

const PROBE =
  'import json, django, oauthlib, oauth2_provider; print(json.dumps([oauth2_provider.__version__, django.get_version(), oauthlib.__version__]))';

/** The first python that imports DOT, with the versions it reports. */
async function findPython(): Promise<{ python: string; versions: DotServerInfo['versions'] } | undefined> {
  const candidates = [process.env.M2M_INTEROP_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of new Set(candidates)) {
    const result = await run(python, ['-c', PROBE], { ms: 30_000 });
    if (result.code !== 0) continue;
    const [dot, django, oauthlib] = JSON.parse(result.stdout) as [string, string, string];
    return { python, versions: { dot, django, oauthlib } };
  }
  return undefined;
}

/**
 * Finds DOT, or installs the Debian package when running as root (saying so in one line), or throws
 * with the command to install it.
 */
export async function provisionDot(): Promise<{ python: string; versions: DotServerInfo['versions'] }> {
  const found = await findPython();
  if (found !== undefined) return found;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error(INSTALL_HINT);
  console.log(`Django OAuth Toolkit is missing: installing the Debian package ${DEBIAN_PACKAGE} (apt-get, as root)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits (bounded) for a dpkg lock held by another apt run instead of failing at once.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  for (const args of [
    [...lock, 'update', '-qq'],
    [...lock, 'install', '-y', '-qq', DEBIAN_PACKAGE],
  ]) {
    const result = await run('apt-get', args, { ms: 900_000, env });
    if (result.code !== 0)
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr.slice(-2000)}\n${INSTALL_HINT}`);
  }
  const installed = await findPython();
  if (installed === undefined) throw new Error(`${DEBIAN_PACKAGE} was installed but no python3 imports oauth2_provider.\n${INSTALL_HINT}`);
  return installed;
}

/** A secret of `bytes` random bytes, URL-safe. */
const randomSecret = (bytes = 24) => randomBytes(bytes).toString('base64url');

/** The running Django project; `info` is what the tests get. */
export class DotServer {
  readonly #child: ChildProcess;
  readonly #dir: string;
  #stderr = '';

  private constructor(
    readonly info: DotServerInfo,
    child: ChildProcess,
    dir: string,
  ) {
    this.#child = child;
    this.#dir = dir;
  }

  /** Migrates, creates the applications, starts the server and waits (bounded) until it answers. */
  static async start(): Promise<DotServer> {
    const { python, versions } = await provisionDot();
    const dir = mkdtempSync(join(tmpdir(), 'm2m-dot-'));
    const env = { ...process.env, M2M_INTEROP_DB: join(dir, 'db.sqlite3'), PYTHONDONTWRITEBYTECODE: '1' };
    const manage = async (args: string[], input?: string) => {
      const result = await run(python, ['manage.py', ...args], {
        cwd: PROJECT_DIR,
        env,
        ms: 120_000,
        ...(input === undefined ? {} : { input }),
      });
      if (result.code !== 0) throw new Error(`manage.py ${args[0]} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    };
    try {
      await manage(['migrate', '--noinput', '-v', '0']);
      const clients: DotServerInfo['clients'] = {
        main: { clientId: 'm2m-main', clientSecret: randomSecret() },
        other: { clientId: 'm2m-other', clientSecret: randomSecret() },
        special: { clientId: 'm2m-special', clientSecret: `${randomSecret(9)}:@+% &=/"?~${randomSecret(9)}` },
        introspector: { clientId: 'resource-server', clientSecret: randomSecret() },
      };
      // Secrets go through stdin, never argv.
      await manage(
        ['interop_clients'],
        JSON.stringify(Object.values(clients).map((c) => ({ client_id: c.clientId, client_secret: c.clientSecret }))),
      );

      const child = spawn(python, ['manage.py', 'interop_serve', '--port', '0'], {
        cwd: PROJECT_DIR,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const port = await listeningPort(child, 60_000);
      const server = new DotServer({ url: `http://127.0.0.1:${port}`, versions, clients }, child, dir);
      child.stderr!.on('data', (chunk: Buffer) => (server.#stderr = (server.#stderr + chunk.toString()).slice(-10_000)));
      await server.#waitUntilAnswering(30_000);
      return server;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The server's recent stderr (Django's warnings for 4xx/5xx), for failure messages. */
  get stderr(): string {
    return this.#stderr;
  }

  async #waitUntilAnswering(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const ok = await fetch(`${this.info.url}/interop/counts/`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`DOT did not answer at ${this.info.url} within ${ms} ms:\n${this.#stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Closes the server's stdin (it exits), SIGKILLs it if it has not gone after 3 s, and removes the database. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      child.stdin?.end();
      if (!(await gone)) child.kill('SIGKILL');
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Reads the child's stdout until it prints "listening on <port>" (bounded); rejects if it exits first. */
function listeningPort(child: ChildProcess, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`DOT server ${why}:\n${stdout}\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`printed no port within ${ms} ms`), ms);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => fail(`exited (${code}) before listening`));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(match[1]));
      }
    });
  });
}
