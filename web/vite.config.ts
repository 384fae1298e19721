import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The app is served by `rempart server` at /crisis/ (embedded with go:embed,
// web/embed.go). No asset comes from outside: everything is bundled.
const stub = fileURLToPath(new URL('./src/stubs/unused.ts', import.meta.url));

export default defineConfig({
  base: '/crisis/',
  resolve: {
    // Optional jsPDF plugins this app never calls (see src/stubs/unused.ts).
    alias: { html2canvas: stub, dompurify: stub, canvg: stub },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    // dist/.gitkeep is committed (go:embed needs the folder on a clean
    // clone): `npm run build` removes the old build itself, see
    // scripts/clean-dist.mjs.
    emptyOutDir: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
    sourcemap: false,
    // Two pages, one build: the crisis room (index.html, /crisis/) and the
    // console (console/index.html, served at /console/); they share i18n,
    // styles and the assets folder (/crisis/assets/).
    rolldownOptions: {
      input: {
        crisis: fileURLToPath(new URL('./index.html', import.meta.url)),
        console: fileURLToPath(new URL('./console/index.html', import.meta.url)),
      },
    },
  },
  server: {
    // `npm run dev` against a local `rempart server` (REMPART_DEV_SERVER).
    proxy: {
      '/v1': {
        target: process.env.REMPART_DEV_SERVER ?? 'https://127.0.0.1:8443',
        secure: false,
        ws: true,
      },
    },
  },
  test: {
    environment: 'node',
    include: process.env.BENCH ? ['bench/**/*.test.ts'] : ['test/**/*.test.ts'],
    testTimeout: 30000,
  },
});
