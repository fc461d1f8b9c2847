import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The interoperability suite (`npm run test:interop`): m2m-token against Django OAuth Toolkit, a
 * Python authorization server started once by the global setup. Files run one at a time, since the
 * tests count requests on that one server.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/interop/**/*.test.ts'],
    globalSetup: ['test/interop/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    restoreMocks: true,
  },
});
