import { defineConfig } from 'vite';
export default defineConfig({
  root: 'bench',
  base: './',
  build: { outDir: '../bench-dist', emptyOutDir: true, rollupOptions: { input: 'bench/browser.html' }, target: 'es2022' },
});
