#!/usr/bin/env bash
# Configures and builds kiln into build/ (Release, -j2 by default; JOBS overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "${JOBS:-2}"
