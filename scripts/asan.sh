#!/usr/bin/env bash
# Builds kiln with AddressSanitizer + UBSan (build-asan/) and runs the GPU tests under it on the
# default Vulkan device (lavapipe on a machine without a GPU): use-after-free of device buffers
# kept alive by in-flight command buffers, out-of-bounds host copies, undefined behaviour.
# Not part of .ci/run (a second full build would not fit CI's time budget); run it after
# changes to gpu/ or core/array.cpp. Leak checking is off: the Vulkan context, encoder and
# allocator are deliberately never destroyed (drivers may be unloaded first at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON \
  -DKILN_BUILD_BENCH=OFF -DKILN_BUILD_EXAMPLES=OFF ${KILN_CMAKE_ARGS:-} >/dev/null
tests="test_gpu_runtime test_gpu_ops test_gpu_elementwise test_gpu_fused test_gpu_replay test_gpu_staging"
cmake --build build-asan -j "${JOBS:-2}" --target $tests
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in $tests; do
  echo "[asan] $t"
  ./build-asan/tests/$t --gtest_brief=1
done
