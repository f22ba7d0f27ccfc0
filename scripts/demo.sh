#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds kiln and runs the main demo: the seeds'
# linear-model SGD example, compiled (model + optimizer state captured).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/examples/linear_sgd "$@"

