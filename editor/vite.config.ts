// The editor's build: `npm start` and `npm test` run it (scripts/build-editor.mjs) when sources changed.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [vue()],
  resolve: {
    // The wire schemas are the server's own (shared, not copied).
    alias: { '@server': here('../server'), '@nodes': here('../nodes'), '@': here('./src') },
  },
  build: { outDir: here('./dist'), emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8188', '/socket.io': { target: 'ws://127.0.0.1:8188', ws: true } },
  },
});
