import { defineConfig, type Options } from 'tsup';

/**
 * The runtime dependencies of the source (the design card's `zod/mini` and `p-retry`, and what p-retry
 * imports) are bundled into the build, tree-shaken to what m2m-token calls: the published package has
 * no `dependencies`, so installing it installs nothing else, and Node.js loads a few files instead of
 * zod's hundred modules. The optional peers (jose, ioredis, undici) stay external: they are imported
 * only when a feature needs them, from the user's own installation.
 */
const bundled = ['zod', 'p-retry', 'is-network-error'];

const shared = {
  target: 'node20',
  platform: 'node',
  noExternal: bundled,
  treeshake: true,
  // No source maps in the package. The build is not minified: a stack trace points at readable
  // JavaScript with the source's names. A map without its sources would send debuggers to `src/*.ts`
  // files that are not shipped; with its sources it tripled the package (600 kB of 960 kB).
  sourcemap: false,
  // Bundled code keeps no comments but its licence notices (zod and p-retry are MIT).
  esbuildOptions(options) {
    options.legalComments = 'inline';
  },
} satisfies Options;

export default defineConfig([
  // ESM: the library entries and the `m2m-token` command (package.json `bin`) in one build, so code
  // they share (the client, zod's parts) lives in shared chunks loaded once, not copied into cli.js.
  {
    ...shared,
    entry: { index: 'src/index.ts', redis: 'src/redis.ts', cli: 'src/cli.ts' },
    format: 'esm',
    splitting: true,
    dts: { entry: { index: 'src/index.ts', redis: 'src/redis.ts' } },
  },
  // CommonJS: the library entries only (the command runs as ESM). p-retry is ESM-only, and Node.js
  // 20.18 cannot require() ES modules, so bundling is needed here in any case.
  {
    ...shared,
    entry: { index: 'src/index.ts', redis: 'src/redis.ts' },
    format: 'cjs',
    splitting: true,
    dts: { entry: { index: 'src/index.ts', redis: 'src/redis.ts' } },
  },
]);
