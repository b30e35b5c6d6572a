#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang 14 (in build-fuzz/) and runs each for a
# bounded time, starting from its seed corpus. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Default 30 s each, every target. A crash leaves its input as build-fuzz/crash-* and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http_request webhook_body event_ingress body)

scripts/install-deps.sh clang-14 libclang-rt-14-dev
mkdir -p build-fuzz
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DHOOKD_FUZZ=ON -DHOOKD_BUILD_TESTS=OFF >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; exit 1; }
cmake --build build-fuzz -j "${HOOKD_JOBS:-2}" --target "${targets[@]/%/_fuzz}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
failed=0
for t in "${targets[@]}"; do
  # Inputs found go to a scratch corpus; the committed seeds stay as they are.
  mkdir -p "build-fuzz/corpus/$t"
  log=build-fuzz/$t.log
  rc=0
  (cd build-fuzz && "./tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
     -rss_limit_mb=4096 -dict=../tests/fuzz/hookd.dict -print_final_stats=1 \
     "corpus/$t" "../tests/fuzz/corpus/$t") >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} inputs in ${seconds}s, no failure"
  else
    failed=1
    echo "fuzz $t: FAILED (exit $rc); the input is build-fuzz/crash-* or leak-* or timeout-*; log:"
    grep -v '^#' "$log" | tail -60
  fi
done
exit $failed
