import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// `npm run build:dashboard` writes dist/dashboard. For `vite --config dashboard/vite.config.ts`,
// CARETAKER_API_URL=http://127.0.0.1:<port> proxies the API to a running `caretaker run`.
const api = process.env.CARETAKER_API_URL;

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './', // every URL relative: the dashboard works when the API is mounted under a prefix
  plugins: [preact()],
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    sourcemap: false,
  },
  server: api
    ? {
        proxy: {
          '/api': {
            target: api,
            changeOrigin: true,
            // The dev server's own origin is not the daemon's: drop it, as curl would, so the
            // daemon's cross-site guard lets the dashboard's buttons through in development.
            configure: (proxy) => proxy.on('proxyReq', (request) => request.removeHeader('origin')),
          },
        },
      }
    : {},
});
