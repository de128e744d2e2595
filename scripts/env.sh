# Sourced by the project's scripts: installs npm packages when needed and puts the
# project's pinned Node (24, from the `node` npm package) first on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # `npm install` with the committed lock, not `npm ci`: the registry mirror here lacks some
  # of biome's per-platform optional packages, which `npm ci` insists on finding in the lock.
  echo "==> npm install (locked versions)"
  npm install --no-audit --no-fund --loglevel=error
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
