#!/usr/bin/env bash
# Installs what is missing, builds hookd, and runs it with its data in ./data.
# On the first start it prints an integration id, an API key and a curl line to try.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
exec build/hookd serve --data-dir ./data "$@"
