import { defineConfig } from 'tsup';

const shared = {
  entry: { index: 'src/index.ts', redis: 'src/redis.ts' },
  dts: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
} as const;

export default defineConfig([
  { ...shared, format: 'esm' },
  // The `m2m-token` command (package.json `bin`).
  { ...shared, entry: { cli: 'src/cli.ts' }, format: 'esm', dts: false },
  // p-retry is ESM-only and Node 20.18 cannot require() ES modules: the CommonJS build carries a copy.
  { ...shared, format: 'cjs', noExternal: ['p-retry', 'is-network-error'] },
]);
