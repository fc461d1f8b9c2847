import { defineConfig } from 'tsup';

/**
 * The type declarations of the entries, bundled (dist/<entry>.d.cts and the chunks they share). The
 * JavaScript is built by scripts/build.ts, the ES module entries by scripts/esm-entries.mjs
 * (`npm run build` runs the three).
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis.ts',
    testing: 'src/testing.ts',
    undici: 'src/undici.ts',
    axios: 'src/axios.ts',
  },
  format: 'cjs',
  target: 'node20',
  platform: 'node',
  dts: { only: true },
});
