#!/usr/bin/env bash
# test.sh — installs the dependencies, builds crate and runs the whole test
# suite with ctest; then builds again with AddressSanitizer + UBSan and runs
# the unit tests there (set CRATE_SKIP_SANITIZE=1 to skip that second pass).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/launch/install-deps.sh"

# Tests that start several ranks run as root in CI and oversubscribe 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

"$root/launch/build.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure --timeout 600)
# The default GEMM backend is oneDNN when the build has it (src/kernels/gemm.h):
# the unit tests (gradient checks, kernels, the models' rank-count and resume
# agreement) run again on the reference backend, OpenBLAS.
echo "== the unit tests again on the OpenBLAS GEMM backend (CRATE_GEMM=openblas) =="
(cd "$root/build" && CRATE_GEMM=openblas ctest --output-on-failure --timeout 600 -L unit)

if [ "${CRATE_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
  "$root/launch/build.sh" "$root/build-asan" -DCRATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  # Unit tests never start MPI: leaks are errors there. The tools start Open
  # MPI, whose own allocations LeakSanitizer would report, so integration
  # tests run with leak detection off (ASan and UBSan still check them).
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 900 -L unit)
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure --timeout 900 -L integration)
fi
