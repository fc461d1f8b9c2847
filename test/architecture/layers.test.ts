/**
 * The dependency rule of docs/architecture.md, checked on the source: imports point one way (down the
 * layers), there is no import cycle, and no source file grows past the size a reader can hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every .ts file under src/, relative to it, with the src files it imports (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)].map(([, spec]) =>
      relative(SRC, resolve(dirname(join(SRC, file)), spec!)).replace(/\.js$/, '.ts'),
    );
    graph.set(file, targets);
  }
  return graph;
}

/** The layer of a file: its folder, or the file's name for top-level files. */
function layerOf(file: string): string {
  return file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, '');
}

/** For each layer, the layers (and top-level files) it may import. Anything else is a violation. */
const ALLOWED: Record<string, readonly string[]> = {
  util: ['util', 'errors'],
  errors: [],
  token: ['util'],
  events: ['errors', 'token', 'util'],
  store: ['token', 'util'],
  protocol: ['protocol', 'util', 'errors', 'token'],
  cache: ['cache', 'util', 'errors', 'token'],
  acquire: ['acquire', 'cache', 'protocol', 'util', 'errors', 'token', 'store'],
  fetch: ['fetch', 'protocol', 'util', 'errors', 'token', 'options', 'call-options'],
  resources: ['resources', 'fetch', 'protocol', 'util', 'errors', 'token', 'options'],
};

describe('architecture', () => {
  const graph = importGraph();

  it('finds the source files and their imports (the check below is not vacuous)', () => {
    expect(graph.get('client.ts')).toContain('assemble.ts');
    expect(graph.get('protocol/token-request.ts')).toContain('protocol/token-response.ts');
    expect(graph.size).toBeGreaterThan(30);
  });

  it('imports point down the layers: protocol and cache never import each other, the store, the client or its wiring', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph) {
      const allowed = ALLOWED[layerOf(file)];
      if (allowed === undefined) continue; // the façade and its wiring may import anything below them
      for (const target of targets) {
        if (!allowed.includes(layerOf(target))) violations.push(`${file} -> ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps every source file under 300 lines (the CLI aside) and the façade under 250', () => {
    const long = [...graph.keys()]
      .filter((file) => !file.startsWith('cli'))
      .map((file) => [file, readFileSync(join(SRC, file), 'utf8').trimEnd().split('\n').length] as const)
      .filter(([file, lines]) => lines > (file === 'client.ts' ? 250 : 300));
    expect(long).toEqual([]);
  });
});
