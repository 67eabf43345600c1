import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'nodes/**/*.test.ts', 'server/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: keep tensor-heavy test files from fighting over them.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
