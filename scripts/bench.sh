#!/usr/bin/env bash
# Builds hookd (release) and runs the standard benchmark set: the micro benchmarks, then every
# scenario of the load tool, in rounds. Prints one JSON line per run (and Google Benchmark's
# table), then hookd_bench_summary's lines: each scenario's medians over the rounds and the
# targets checked against them.
# Usage: scripts/bench.sh [--rounds N] [SCENARIO...]
#   (default: 3 rounds of the standard set below; "retries" is long and not in it)
# Runs also go to build/bench/results.jsonl. See bench/README.md; figures in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
if [ "${1:-}" = "--rounds" ]; then
  rounds=${2:?--rounds needs a number}
  shift 2
fi
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(one fanout10 fanout1000 https failing slow ingress ingress-batch latency latency-steady)
scripts/build.sh release >&2
out=build/bench/results.jsonl
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
if [ $# -eq 0 ]; then
  build/bench/hookd_micro --benchmark_min_time=0.5 >&2
fi
status=0
# Round after round rather than each scenario N times in a row: the machine's speed drifts within
# minutes, and each scenario's median should span the same stretch of it.
for ((round = 1; round <= rounds; round++)); do
  for s in "${scenarios[@]}"; do
    echo "round $round/$rounds: scenario $s ..." >&2
    build/bench/hookd_load --scenario "$s" | tee -a "$out" "$runs" || status=1
  done
done
build/bench/hookd_bench_summary "$runs"
exit $status
