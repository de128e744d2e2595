#!/usr/bin/env bash
# The main job: a local curation run on the bundled sample repository.
source "$(dirname "$0")/env.sh"
echo "scaleswe: the local CLI run is not implemented yet (see README status)." >&2
exit 1
