#!/usr/bin/env bash
# The main job: curate the bundled sample repository on this machine — mining, EnvAgent,
# TestAgent, PromptAgent and verification — and export a SWE-bench dataset. No cluster,
# no API keys. Extra arguments go to `scaleswe run` (e.g. --parallel 2).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if { ! command -v bwrap || ! command -v slirp4netns; } >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "==> installing bubblewrap and slirp4netns (stage sandbox and its network)"
  (apt-get install -y -qq bubblewrap slirp4netns >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq bubblewrap slirp4netns; }) >/dev/null
fi
exec node operator/src/cli/scaleswe.ts run --sample "$@"
