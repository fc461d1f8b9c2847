import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestClient } from './types.js';

const MAX_BODY = 64 * 1024;

/** The form body of a request (at most 64 kB; a larger one is cut off and reads as empty). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return new URLSearchParams();
    chunks.push(chunk);
  }
  const type = req.headers['content-type'] ?? '';
  return type.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
    : new URLSearchParams();
}

/** Sends a JSON answer, never cached (RFC 6749 §5.1). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** Decodes one part of a `client_secret_basic` credential (form-encoded, RFC 6749 §2.3.1). */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The registered client a request authenticates as, with `client_secret_basic` or
 * `client_secret_post`; `undefined` when the credentials are missing, ambiguous or wrong.
 */
export function authenticateClient(req: IncomingMessage, form: URLSearchParams, clients: readonly TestClient[]): TestClient | undefined {
  const header = req.headers.authorization;
  let id: string | undefined;
  let secret: string | undefined;
  if (header !== undefined) {
    const match = /^basic\s+(\S+)$/i.exec(header);
    if (match === null || form.has('client_secret')) return undefined;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    id = formDecode(decoded.slice(0, colon));
    secret = formDecode(decoded.slice(colon + 1));
    const formId = form.get('client_id');
    if (formId !== null && formId !== id) return undefined;
  } else {
    id = form.get('client_id') ?? undefined;
    secret = form.get('client_secret') ?? undefined;
  }
  return clients.find((c) => c.clientId === id && c.clientSecret === secret);
}

/** The `401 invalid_client` answer (RFC 6749 §5.2), with a Basic challenge when Basic was tried. */
export function sendInvalidClient(req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string> = req.headers.authorization === undefined ? {} : { 'www-authenticate': 'Basic realm="test"' };
  sendJson(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' }, headers);
}
