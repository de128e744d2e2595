# Sourced by the project's scripts, or by hand (`source scripts/env.sh`): installs npm packages
# when needed and puts the project's pinned Node (24, from the `node` npm package) first on
# PATH. It sets ROOT and PATH and changes nothing else in the sourcing shell: no shell options
# (the scripts set their own `set -euo pipefail`), no working directory.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -x "$ROOT/node_modules/.bin/node" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
  # `npm install` with the committed lock, not `npm ci`: the registry mirror here lacks some
  # of biome's per-platform optional packages, which `npm ci` insists on finding in the lock.
  echo "==> npm install (locked versions)"
  if ! (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error); then
    echo "scripts/env.sh: npm install failed" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
