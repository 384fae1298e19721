#!/usr/bin/env bash
# The crisis room web app (web/): install the pinned npm packages, typecheck,
# run the unit tests (vitest, in Node), build into web/dist (embedded in the
# rempart binary by web/embed.go).
#
#   scripts/web.sh
#
# Needs only Node.js >= 20.19 and npm, with the npm registry reachable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../web"

command -v node >/dev/null 2>&1 || { echo "ERROR: node not found: install Node.js 20.19 or newer (with npm)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "ERROR: npm not found: install npm with Node.js" >&2; exit 1; }
node -e '
const [a, b] = process.versions.node.split(".").map(Number);
if (a < 20 || (a === 20 && b < 19)) {
  console.error(`ERROR: Node.js ${process.versions.node} is too old: Vite needs 20.19 or newer`);
  process.exit(1);
}'

echo "== npm ci (node $(node --version), npm $(npm --version))"
npm ci --no-audit --no-fund
echo "== typecheck (tsc --noEmit)"
npx --no-install tsc --noEmit
echo "== unit tests (vitest run)"
npx --no-install vitest run
echo "== build (vite build into web/dist)"
npm run build
