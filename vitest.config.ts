import { defineConfig } from 'vitest/config';

// Three tiers (DESIGN.md "Tests"): unit = pure code; integration = a real kube-apiserver
// started once per run by the global setup; e2e = a real single-node cluster.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['operator/src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          globalSetup: ['test/support/temp-root.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/temp-root.ts', 'test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/temp-root.ts', 'test/e2e/global-setup.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
