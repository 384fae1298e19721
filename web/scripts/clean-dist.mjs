// Removes the previous build from dist/ but keeps dist/.gitkeep, which is
// committed so that `go build` (go:embed all:dist) works on a clean clone
// before any npm build. Vite runs with emptyOutDir: false for the same reason.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
for (const name of ['assets', 'index.html', 'console', 'favicon.svg']) {
  rmSync(dist + name, { recursive: true, force: true });
}
