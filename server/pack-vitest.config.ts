// The vitest config `cadflow test DIR` runs a pack's tests with: every `cadflow/<sub>` package export (package.json
// "exports": cadflow/sdk, cadflow/sdk/testing, …) is this cadflow's file, as the pack loader resolves it at run time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = new URL('..', import.meta.url);
const exportsMap: Record<string, string> = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).exports;
// exact matches, so cadflow/sdk does not swallow cadflow/sdk/testing
const alias = Object.entries(exportsMap)
  .filter(([key]) => key.startsWith('./') && key !== './package.json')
  .map(([key, file]) => ({ find: new RegExp(`^cadflow/${key.slice(2).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`), replacement: fileURLToPath(new URL(file, root)) }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
