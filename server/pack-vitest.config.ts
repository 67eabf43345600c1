// The vitest config `cadflow test DIR` runs a pack's tests with: `cadflow/sdk`, `cadflow/sdk/testing` and `cadflow/model` are this
// cadflow's (as the pack loader resolves them at run time), whatever folder the pack lives in.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      'cadflow/sdk/testing': here('./harness.ts'), 'cadflow/sdk': here('../nodes/sdk/index.ts'),
      'cadflow/model': here('../nodes/diffusion/api.ts'),
    },
  },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
