#!/usr/bin/env bash
# Runs decoder's benchmark suite and rewrites BENCHMARKS.md: the standard
# scenarios, each three times against a freshly started decoder, with
# `decoder load` as the clients and an RTSP camera and Chromium where the
# scenario needs them. About a quarter of an hour; run it on a quiet
# machine. Needs what ./test.sh needs.
set -euo pipefail
cd "$(dirname "$0")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ -d e2e/node_modules ]] || npm ci --prefix e2e --no-audit --no-fund --silent
go test -run '^TestBenchmarkSuite$' -count 1 -timeout 60m -v . -suite
