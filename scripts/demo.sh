#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds kiln and runs the main demo: the seeds'
# linear-model SGD example, compiled (model + optimizer state captured).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [ -x build/examples/linear_sgd ]; then
  ./build/examples/linear_sgd "$@"
else
  ./build/examples/kiln_demo "$@"
fi
