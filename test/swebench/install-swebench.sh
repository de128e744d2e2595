#!/usr/bin/env bash
# Installs the official `swebench` package from PyPI into a venv cached outside the repository
# (like the Kubernetes build) and prints the venv's python. Fails loudly when it cannot.
set -euo pipefail
VERSION="${SCALESWE_SWEBENCH_VERSION:-5.0.2}"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/scaleswe/swebench-venv-$VERSION"
if [ ! -f "$VENV/.complete" ]; then
  echo "installing swebench==$VERSION into $VENV (once; cached)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet "swebench==$VERSION" >&2
  "$VENV/bin/python" -c 'import swebench.harness.grading, swebench.harness.utils' >&2
  touch "$VENV/.complete"
fi
echo "$VENV/bin/python"
