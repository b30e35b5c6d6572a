#!/usr/bin/env bash
# Installs hookd's build and test dependencies from Debian 12's packages.
# Does nothing when they are all present already, so it is cheap to call every time.
# Usage: scripts/install-deps.sh [EXTRA_PACKAGE...]  (scripts/fuzz.sh adds clang's, for example)
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config openssl curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libssl-dev libspdlog-dev libtomlplusplus-dev
  libgtest-dev libbenchmark-dev libjemalloc-dev liburing-dev
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
