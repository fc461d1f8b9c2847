import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    restoreMocks: true,
    unstubGlobals: true,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // The CLI is tested by spawning the built command (test/cli.test.ts), outside this process.
      exclude: ['src/cli.ts'],
      reporter: ['text-summary', 'json-summary'],
      // The suite's measured coverage, rounded down: lowering coverage fails the run.
      thresholds: { statements: 97, branches: 95, functions: 96, lines: 98 },
    },
  },
});
