// @ts-check
/**
 * Mutation testing: `npm run mutation` (slow: each mutant runs the tests that cover it, two at a time).
 * One file at a time: `npx stryker run --mutate src/protocol/retry.ts`. Results: reports/mutation/ (gitignored);
 * later runs only re-test mutants whose code or tests changed (the incremental file).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/vitest-runner'],
  testRunner: 'vitest',
  // The in-process suites only, without coverage (see that file).
  vitest: { configFile: 'vitest.mutation.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [
    // The layers whose logic unit tests pin down: the wire protocol, the cache, the decorators.
    'src/protocol/**/*.ts',
    'src/cache/**/*.ts',
    'src/acquire/**/*.ts',
    'src/fleet-invalidation.ts',
  ],
  ignorePatterns: ['dist', 'coverage', 'reports', '.tmp', 'bench/results'],
  concurrency: 2,
  // The first run (every test once, measuring which tests cover which mutant) is slow on a loaded machine.
  dryRunTimeoutMinutes: 20,
  // On top of each mutant's measured run time: a mutant that makes a test hang counts as killed (timeout).
  timeoutMS: 10_000,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Below `break` the run fails; `low`/`high` only colour the report.
  thresholds: { high: 85, low: 70, break: 60 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
