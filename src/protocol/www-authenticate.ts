/** One challenge of a `WWW-Authenticate` header. Scheme and parameter names are lower-cased. */
export interface Challenge {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PARAM = new RegExp(`^(${TOKEN})\\s*=\\s*(${TOKEN}|"(?:[^"\\\\]|\\\\.)*")$`);
const SCHEME_AND_REST = new RegExp(`^(${TOKEN})(?:\\s+(.*))?$`, 's');
const MAX_LENGTH = 8192;

/** Splits on commas outside quoted strings. */
function splitOutsideQuotes(header: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      parts.push(header.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(header.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function unquote(value: string): string {
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 9110 §11.6.1) into its challenges. Malformed pieces are
 * skipped rather than thrown; headers longer than 8 KiB yield no challenges.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 */
export function parseWwwAuthenticate(header: string | null): Challenge[] {
  if (header === null || header.length > MAX_LENGTH) return [];
  const challenges: { scheme: string; params: Map<string, string> }[] = [];
  for (const part of splitOutsideQuotes(header)) {
    const param = PARAM.exec(part);
    const current = challenges.at(-1);
    if (param && current) {
      current.params.set(param[1]!.toLowerCase(), unquote(param[2]!));
      continue;
    }
    const match = SCHEME_AND_REST.exec(part);
    if (!match) continue;
    const challenge = { scheme: match[1]!.toLowerCase(), params: new Map<string, string>() };
    challenges.push(challenge);
    const rest = match[2] && PARAM.exec(match[2].trim());
    if (rest) challenge.params.set(rest[1]!.toLowerCase(), unquote(rest[2]!));
  }
  return challenges;
}
