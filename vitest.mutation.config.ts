import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The tests mutation testing (`npm run mutation`) runs against each mutant: the in-process suites. Left
 * out: suites that spawn processes (the CLI, examples, child processes, real redis-server) or assert on
 * wall-clock behaviour under faults: a child process runs the instrumented code without the mutant under
 * test (and does not exit by itself there), and every mutant's run would be slow and load-sensitive. Coverage is off
 * (Stryker measures its own). The lists replace the base config's (mergeConfig would concatenate them).
 *
 * `MUTATION_TESTS=parts` runs only the unit tests of the parts (test/parts/): minutes instead of an hour,
 * for the cache and decorator modules those tests are written for.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    globalSetup: process.env.MUTATION_TESTS === 'parts' ? [] : base.test?.globalSetup,
    include:
      process.env.MUTATION_TESTS === 'parts'
        ? ['test/parts/**/*.test.ts']
        : ['test/parts/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/fuzz/cli.test.ts', 'test/unit/lifecycle.test.ts'],
    coverage: { ...base.test?.coverage, enabled: false },
  },
});
