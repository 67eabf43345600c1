import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  plugins: [vue()],
  // The editor's aliases (editor/vite.config.ts), for its store and component tests.
  resolve: {
    alias: {
      '@server': here('./server'), '@nodes': here('./nodes'), '@': here('./editor/src'),
      // packs import the public SDK by name (package.json exports); the pack loader's resolve hook does this outside vitest
      'cadflow/sdk/testing': here('./server/harness.ts'), 'cadflow/sdk': here('./nodes/sdk/index.ts'),
      'cadflow/model': here('./nodes/diffusion/api.ts'),
    },
  },
  test: {
    include: ['test/**/*.test.ts', 'nodes/**/*.test.ts', 'server/**/*.test.ts', 'editor/src/**/*.test.ts',
      'examples/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: keep tensor-heavy test files from fighting over them.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
