#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds kiln and runs the whole test suite twice: once on
# the default device (the GPU through Vulkan when one exists — Mesa's lavapipe on a machine
# without a GPU) and once with KILN_DEVICE=cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo "[test] default device (KILN_DEVICE unset)"
ctest --test-dir build --output-on-failure -j "${JOBS:-2}"
echo "[test] KILN_DEVICE=cpu"
KILN_DEVICE=cpu ctest --test-dir build --output-on-failure -j "${JOBS:-2}"
