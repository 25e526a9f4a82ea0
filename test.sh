#!/usr/bin/env bash
# Runs decoder's whole test suite: formatting, vet, and the tests under the
# race detector (real servers on loopback, the real binary, a private D-Bus
# session bus for the tray).
set -euo pipefail
cd "$(dirname "$0")"

unformatted=$(gofmt -l . | grep -v '^testdata/' || true)
if [[ -n $unformatted ]]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 15m ./...
