// Vite build of the admin UI: renderer/ → renderer/dist (served by server/admin at /). `npm run build:ui`.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // One small bundle; no inline scripts (the server's CSP forbids them).
    assetsInlineLimit: 0,
  },
  server: {
    // `npx vite renderer` during UI work: API calls go to a running `sealpost serve`.
    proxy: { '/api': 'http://127.0.0.1:7080', '/auth': 'http://127.0.0.1:7080' },
  },
});
