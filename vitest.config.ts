import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure layers, next to the code) and `integration` (test/, each file
// starts the real OVS / etcd / server it needs in a private run directory). Integration files
// run one at a time: every one starts its own ovs-vswitchd, and the machine has two cores.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
