#!/usr/bin/env bash
# Builds the S3-compatible server the dataset store tests run against: gofakes3 (MIT), from
# the Go module proxy, with its persistent bolt backend (objects survive a restart, so a test
# can stop the store and start it again). Cached outside the repo, keyed by version.
set -euo pipefail

GOFAKES3_VERSION="${GOFAKES3_VERSION:-v1.2.0}"
CACHE_ROOT="${SCALESWE_CACHE:-$HOME/.cache/scaleswe}"
OUT="$CACHE_ROOT/gofakes3-$GOFAKES3_VERSION/bin"
if [[ -x "$OUT/gofakes3" ]]; then
  echo "gofakes3 $GOFAKES3_VERSION cached in $OUT"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build gofakes3 ($GOFAKES3_VERSION)" >&2; exit 1; }
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/gofakes3-$GOFAKES3_VERSION.lock"
flock 9
if [[ -x "$OUT/gofakes3" ]]; then
  echo "gofakes3 $GOFAKES3_VERSION cached in $OUT (built by a concurrent run)"
  exit 0
fi
echo "building gofakes3 $GOFAKES3_VERSION into $OUT"
start=$(date +%s)
STAGE="$CACHE_ROOT/gofakes3-$GOFAKES3_VERSION/stage"
rm -rf "$STAGE"
mkdir -p "$STAGE" "$OUT"
# `go install pkg@version` builds with the module's own go.mod pins; the binary moves into
# $OUT only when complete, so an interrupted build never looks cached.
GOBIN="$STAGE" CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" \
  go install -ldflags "-s -w" "github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3_VERSION"
mv "$STAGE/gofakes3" "$OUT/gofakes3"
rm -rf "$STAGE"
echo "gofakes3 $GOFAKES3_VERSION built in $(( $(date +%s) - start )) s"
