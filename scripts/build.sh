#!/usr/bin/env bash
# Configures and builds hookd. Usage: scripts/build.sh [release|debug|sanitize]
# Build folders: build/ (release), build-debug/, build-sanitize/ (ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release)  dir=build;          args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  debug)    dir=build-debug;    args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  sanitize) dir=build-sanitize; args=(-DCMAKE_BUILD_TYPE=Debug -DHOOKD_SANITIZE=ON -DHOOKD_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 [release|debug|sanitize]" >&2; exit 2 ;;
esac
scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "${HOOKD_JOBS:-2}"
