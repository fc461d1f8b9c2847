import type { TraceExchange } from '../trace.js';

/** An exchange as lines for a terminal, in the style of `curl -v` (`>` request, `<` response). */
export function formatExchange(exchange: TraceExchange): string {
  const lines = [`> ${exchange.method} ${exchange.url}`];
  for (const [name, value] of Object.entries(exchange.requestHeaders)) lines.push(`> ${name}: ${value}`);
  if (exchange.requestBody !== undefined) lines.push('>', `> ${exchange.requestBody}`);
  if (exchange.status === undefined) {
    lines.push(`* failed after ${exchange.durationMs} ms: ${exchange.error ?? 'no response'}`);
  } else {
    lines.push(`< ${exchange.status} (${exchange.durationMs} ms)`);
    for (const [name, value] of Object.entries(exchange.responseHeaders)) lines.push(`< ${name}: ${value}`);
    if (exchange.responseBody !== undefined && exchange.responseBody !== '') lines.push('<', `< ${exchange.responseBody}`);
  }
  return lines.join('\n');
}
