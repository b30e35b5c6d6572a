#!/usr/bin/env bash
# The long crash-consistency run: publish under load, SIGKILL hookd at random moments ROUNDS times
# (default 20), restart it each time, and check every acknowledged event is delivered and the store
# opens cleanly every time. Then, once, the kills while deliveries are retried (every attempt made
# stays counted). Usage: scripts/crash-test.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
HOOKD_CRASH_ROUNDS=${1:-20} build/tests/hookd_tests --gtest_filter='Crash.*'
