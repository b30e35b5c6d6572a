#!/usr/bin/env bash
# Builds hookd (release) and runs the standard benchmark set: the micro benchmarks, then every
# scenario of the load tool. Prints one JSON line per scenario (and Google Benchmark's table).
# Usage: scripts/bench.sh [SCENARIO...]   (default: the standard set below; "retries" is long)
# Results also go to build/bench/results.jsonl. See bench/README.md; figures in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(one fanout10 fanout1000 https failing slow ingress ingress-batch latency latency-steady)
scripts/build.sh release >&2
out=build/bench/results.jsonl
if [ $# -eq 0 ]; then
  build/bench/hookd_micro --benchmark_min_time=0.5 >&2
fi
status=0
for s in "${scenarios[@]}"; do
  echo "scenario $s ..." >&2
  build/bench/hookd_load --scenario "$s" | tee -a "$out" || status=1
done
exit $status
