#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs
# static checks and every tier. Any tier that cannot run fails the run.
source "$(dirname "$0")/env.sh"
echo "==> node $(node --version)"
echo "==> typecheck"; tsc -p tsconfig.json
echo "==> lint"; biome check .
echo "==> CRDs in sync"; node operator/src/api/generate.ts >/dev/null && git diff --exit-code -- crds charts
echo "==> Kubernetes binaries, etcd, kubectl, helm (built from Go modules, cached)"; bash test/cluster/build-k8s.sh
echo "==> unit"; vitest run --project unit
