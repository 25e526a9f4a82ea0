#!/usr/bin/env bash
# Runs decoder's whole test suite: formatting, vet, the player's types, and
# the tests under the race detector (real servers on loopback, the real
# binary, RTSP cameras, ffmpeg, Chromium driven by playwright-core, a
# private D-Bus session bus for the tray). It first installs the Debian
# packages those need when some are missing (deps.sh).
set -euo pipefail
cd "$(dirname "$0")"

./deps.sh

unformatted=$(gofmt -l . | grep -v '^testdata/' | grep -v '^e2e/node_modules/' || true)
if [[ -n $unformatted ]]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
npm ci --prefix e2e --no-audit --no-fund --silent
e2e/node_modules/.bin/tsc -p e2e/tsconfig.json
go test -race -count=1 -timeout 15m ./...
