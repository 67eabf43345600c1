// prestart/pretest: build the editor with Vite when editor/dist is missing or older than its sources,
// so `npm ci && npm start` serves it with no manual step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'editor/dist/index.html');
// The editor bundles the server's wire schemas and the SDK's socket types, so those count as sources too.
const sources = ['editor/src', 'editor/index.html', 'editor/vite.config.ts', 'server/events.ts', 'server/wire.ts',
  'server/engine/schema.ts', 'nodes/sdk/sockets.ts', 'package-lock.json'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(...sources.map((s) => newest(join(root, s))));
if (built >= changed && !process.argv.includes('--force')) process.exit(0);
console.log('cadflow: building the editor (vite)…');
const { build } = await import('vite');
await build({ configFile: join(root, 'editor/vite.config.ts'), logLevel: 'warn' });
console.log('cadflow: editor built into editor/dist');
