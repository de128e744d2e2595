#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs
# static checks and every tier. Any tier that cannot run fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
echo "==> node $(node --version)"
echo "==> typecheck"; tsc -p tsconfig.json
echo "==> lint"; biome check .
echo "==> layer rules (.dependency-cruiser.ts)"; npm run --silent lint:layers
echo "==> CRDs in sync"; node operator/src/api/generate.ts >/dev/null && git diff --exit-code -- crds charts
echo "==> Kubernetes binaries, etcd, kubectl, helm (built from Go modules, cached)"; bash test/cluster/build-k8s.sh
echo "==> S3-compatible server for the dataset store tests (gofakes3, built from its Go module, cached)"; bash test/store/build-s3-server.sh
if ! command -v bwrap >/dev/null || ! command -v slirp4netns >/dev/null; then
  echo "==> installing bubblewrap and slirp4netns (the local stage sandbox the CLI tests use, and its network)"
  apt-get install -y -qq bubblewrap slirp4netns >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq bubblewrap slirp4netns >/dev/null; }
fi
if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
  echo "==> installing docker-registry and apache2-utils (the real OCI registry of the environment image tests)"
  apt-get install -y -qq docker-registry apache2-utils >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq docker-registry apache2-utils >/dev/null; }
fi
if ! command -v promtool >/dev/null; then
  echo "==> installing promtool (Debian's prometheus; the metrics unit test checks the /metrics scrape with it)"
  apt-get install -y -qq prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }
fi
echo "==> swebench from PyPI (the SWE-bench round-trip test grades our export with it; cached venv)"
bash test/swebench/install-swebench.sh >/dev/null
if ! command -v gradle >/dev/null; then
  echo "==> installing gradle (Debian's; the Gradle fixture: the wrapper's distribution server is out of reach)"
  apt-get install -y -qq gradle >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gradle >/dev/null; }
fi
echo "==> unit"; vitest run --project unit
# Integration and e2e run against a real Kubernetes built from source by the step above
# (test/cluster/; cached in ~/.cache/scaleswe: cold ~9 min on 2 idle cores, ~25 busy; warm: instant).
# e2e needs root (containerd, kubelet, iptables); SCALESWE_SANDBOX_IMAGES=all also builds
# the rust/java sandbox images (default: python,node,go).
echo "==> integration (real kube-apiserver + etcd)"; vitest run --project integration
echo "==> e2e (real single node: kubelet + containerd)"; vitest run --project e2e
