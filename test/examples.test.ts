/**
 * Runs every example and the demo as a user would (`tsx examples/<name>.ts`, against the embedded
 * authorization server: no M2M_* variables) and checks what they print and how they exit. The examples run
 * in parallel, then the demo; each is killed, and its test failed, if it has not exited after
 * {@link KILL_AFTER} ms.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const KILL_AFTER = 20_000;
const TEST_TIMEOUT = KILL_AFTER + 5_000;
/** An access token would show up as a long base64url run (opaque tokens: 43 characters; JWTs: longer). */
const TOKEN_LIKE = /[\w-]{40,}/;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `tsx <file>` from the repository root with no M2M_* variables; `onStdout` sees the output so far
 * each time some arrives. In its own process group, so that a kill reaches tsx's own child process too.
 */
function run(file: string, onStdout?: (stdout: string, child: ChildProcess) => void): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('M2M_')));
  const child = spawn(TSX, [file], { cwd: ROOT, env: { ...env, NO_COLOR: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    onStdout?.(stdout, child);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, KILL_AFTER);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}

/** Asserts a clean run: exit code 0 within the time limit, nothing on stderr, nothing that looks like a token. */
function expectCleanExit(result: Run): void {
  const transcript = `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  expect(result.timedOut, `still running after ${KILL_AFTER} ms\n${transcript}`).toBe(false);
  expect(result.code, transcript).toBe(0);
  expect(result.stderr, transcript).toBe('');
  expect(result.stdout, 'the output contains something that looks like a token').not.toMatch(TOKEN_LIKE);
  expect(result.stdout).not.toContain('orders-service-demo-secret');
}

describe.concurrent('runnable examples (embedded authorization server)', () => {
  test('quick-start gets a token and prints its type, expiry and scope, but not the token', { timeout: TEST_TIMEOUT }, async () => {
    const startedAt = Date.now();
    const result = await run('examples/quick-start.ts');
    const endedAt = Date.now();
    expectCleanExit(result);
    expect(result.stdout).toMatch(/^token type: +Bearer$/m);
    // 300 s tokens: expiresAt is 300 s after the request was sent, during the run. The whole seconds left
    // were printed during the run too: at most 300, at least what was left when it ended (however slow).
    const expiry = /^expires in: +(\d+) s \((\S+)\)$/m;
    expect(result.stdout).toMatch(expiry);
    const [, left, iso] = expiry.exec(result.stdout)!;
    const sentAt = Date.parse(iso!) - 300_000;
    expect(sentAt).toBeGreaterThanOrEqual(startedAt);
    expect(sentAt).toBeLessThanOrEqual(endedAt);
    expect(Number(left)).toBeLessThanOrEqual(300);
    expect(Number(left)).toBeGreaterThanOrEqual(Math.round((sentAt + 300_000 - endedAt) / 1000));
    expect(result.stdout).toMatch(/^scope: +orders:read$/m);
    expect(result.stdout).toMatch(/^fingerprint: +[0-9a-f]{8} /m);
    expect(result.stdout).toMatch(/^cached: +yes/m);
  });

  test('http-service answers two requests by calling the protected API with one token', { timeout: TEST_TIMEOUT }, async () => {
    const result = await run('examples/http-service.ts');
    expectCleanExit(result);
    expect(result.stdout).toMatch(/^GET \/orders\?status=open -> 200 .*"client_id":"orders-service"/m);
    expect(result.stdout).toMatch(/^GET \/orders\/42 -> 200 .*"path":"\/orders\/42"/m);
    expect(result.stdout).toMatch(/^token requests: 1 /m);
  });

  test('multiple-audiences gets one cached token per scope and per resource', { timeout: TEST_TIMEOUT }, async () => {
    const result = await run('examples/multiple-audiences.ts');
    expectCleanExit(result);
    expect(result.stdout).toContain(`createFetch({ scope: 'orders:read' }) -> 200, the API saw scope "orders:read"`);
    expect(result.stdout).toContain(`createFetch({ scope: 'orders:write' }) -> 200, the API saw scope "orders:write"`);
    expect(result.stdout).toMatch(
      /^getToken\(\{ resource: 'https:\/\/api\.example\.com' \}\) .*JWT for aud "https:\/\/api\.example\.com", asked again: cached$/m,
    );
    expect(result.stdout.match(/asked again: cached$/gm)).toHaveLength(3);
    expect(result.stdout).toMatch(/^3 targets -> 3 distinct tokens$/m);
    expect(result.stdout).toMatch(/^token requests: 3$/m);
  });

  test('mcp-client reaches an MCP server known only by URL: one token for ten calls, one step-up', { timeout: TEST_TIMEOUT }, async () => {
    const result = await run('examples/mcp-client.ts');
    expectCleanExit(result);
    expect(result.stdout).toMatch(/^tools: whoami, admin-report$/m);
    expect(result.stdout).toMatch(/^10 concurrent calls of whoami -> \{"client_id":"mcp-agent","scope":"mcp:tools"\}$/m);
    expect(result.stdout).toMatch(/^token requests so far: 1$/m);
    expect(result.stdout).toMatch(/^admin-report \(after one step-up\) -> report for mcp-agent$/m);
    expect(result.stdout).toMatch(/^token requests: 2$/m);
    expect(result.stdout).not.toContain('mcp-agent-demo-secret');
  });

  test('graceful-shutdown revokes its token on SIGTERM and exits 0', { timeout: TEST_TIMEOUT }, async () => {
    let signalled = false;
    const result = await run('examples/graceful-shutdown.ts', (stdout, child) => {
      if (!signalled && /^ready\b/m.test(stdout)) {
        signalled = true;
        child.kill('SIGTERM'); // to tsx, which passes it on to the example's process
      }
    });
    expect(signalled, `never printed "ready"\n${result.stdout}\n${result.stderr}`).toBe(true);
    expectCleanExit(result);
    expect(result.stdout).toMatch(/^SIGTERM received, shutting down/m);
    expect(result.stdout).toMatch(/^client closed: 1 token\(s\) revoked, 0 error\(s\)$/m);
    expect(result.stdout).toMatch(/^token after shutdown: inactive \(revoked\)$/m);
  });
});

// After the examples, not alongside them: the demo's rotation step runs on a 4-second token and wants the CPU.
describe.concurrent('observability examples (embedded authorization server)', () => {
  test('opentelemetry records a retry, two token fetches with their duration and span, a failure and a revocation', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const result = await run('examples/opentelemetry.ts');
    expectCleanExit(result);
    const out = result.stdout;
    expect(out).toMatch(/^ +counter +m2m_token\.retries \+1 \{.*"m2m_token\.operation":"token","error\.type":"NETWORK"\}$/m);
    expect(out.match(/^ +counter +m2m_token\.tokens \+1 \{.*"m2m_token\.key":"scope=orders:read".*\}$/gm)).toHaveLength(2);
    expect(out.match(/^ +histogram m2m_token\.fetch\.duration \d+ ms /gm)).toHaveLength(2);
    expect(out).toMatch(
      /^ +span +"m2m-token fetch" \d+ ms status=UNSET \{.*"m2m_token\.attempts":2,"m2m_token\.fingerprint":"[\w-]{12}"\}$/m,
    );
    expect(out).toMatch(/^ +span +"m2m-token fetch" \d+ ms status=UNSET \{.*"m2m_token\.attempts":1,/m);
    expect(out).toMatch(/^ +counter +m2m_token\.errors \+1 \{.*"error\.type":"OAUTH_ERROR".*\}$/m);
    expect(out).toMatch(/^ +span +"m2m-token token failed" \d+ ms status=ERROR /m);
    expect(out).toMatch(/^ +counter +m2m_token\.revocations \+1 \{.*"m2m_token\.ok":true\}$/m);
    expect(out).toMatch(/^ +1 token\(s\) revoked, 0 error\(s\)$/m);
    expect(out).toContain('No OpenTelemetry SDK is registered in this example');
  });

  test('pino logs the retry at warn, the token at debug, the failure at error and the revocation at info, as JSON lines', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const result = await run('examples/pino.ts');
    expectCleanExit(result);
    const lines = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, expect.stringMatching(/^m2m-token: token attempt 1 failed \(NETWORK\), retrying in \d+ ms$/)],
      [20, 'm2m-token: token acquired for scope=orders:read'],
      [50, expect.stringMatching(/^m2m-token: token failed: authorization server returned invalid_client \(HTTP 401\)/)],
      [30, expect.stringMatching(/^m2m-token: token [\w-]{12} revoked$/)],
    ]);
    for (const line of lines) expect(line).toMatchObject({ component: 'm2m-token', clientId: 'orders-service' });
    expect(lines[1]).toMatchObject({ attempts: 2, background: false, fingerprint: lines[3]!.fingerprint });
    expect(lines[2]).toMatchObject({ error: { code: 'OAUTH_ERROR', status: 401 } });
  });
});

describe('demo', () => {
  test('npm run demo goes through its five steps and exits 0', { timeout: TEST_TIMEOUT }, async () => {
    const result = await run('scripts/demo.ts');
    expectCleanExit(result);
    for (const title of [
      '1. First token',
      '2. 200 concurrent API calls',
      '3. Rotation in the background',
      "4. Token revoked behind the client's back",
      '5. Shutdown with revocation',
    ]) {
      expect(result.stdout).toContain(`\n${title}\n`);
    }
    expect(result.stdout).toMatch(/^✓ All 5 steps behaved as described/m);
  });
});
