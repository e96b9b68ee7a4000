#!/usr/bin/env bash
# fuzz.sh — builds crate's libFuzzer harnesses (tests/fuzz/: clang, ASan +
# UBSan) and runs fuzzing campaigns on them; prints per harness the seconds,
# executions, coverage (cov: edges, ft: features), corpus size and crashes.
# Run with --help for the options.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
usage: launch/fuzz.sh [options] [NAME...]

Builds the libFuzzer harnesses of tests/fuzz/ with clang, AddressSanitizer and
UndefinedBehaviorSanitizer (cmake -DCRATE_FUZZ=ON -DCRATE_SANITIZE=ON), then
fuzzes each harness NAME (default: all of them) for a fixed time, starting
from its seed corpus tests/fuzz/corpus/NAME (never written to) and a work
corpus that keeps what the campaign found. Harnesses:
  $(cd "$root/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | tr '\n' ' ')

options:
  --seconds N     fuzzing time per harness (default 300; an hour: 3600)
  --parallel P    harnesses fuzzed at once, each one process (default 1)
  --build DIR     the clang build folder (default build-fuzz); configured if new
  --out DIR       results (default runs/fuzz): DIR/work/NAME the work corpus,
                  DIR/crashes/NAME/ crash-*, leak-*, timeout-*, oom-* inputs,
                  DIR/logs/NAME.log libFuzzer's output, DIR/summary.txt
  --keep-going    do not stop at the first crash (libFuzzer -fork=1 with
                  -ignore_crashes, -ignore_ooms, -ignore_timeouts)
  --no-build      use the binaries already in the build folder
  --jobs J        build jobs (default 2)
  -h, --help      this text

Each run: nice -n 10 fuzz_NAME -max_total_time=N -timeout=10 -rss_limit_mb=2048
-malloc_limit_mb=1024 -print_final_stats=1 [-dict=tests/fuzz/dict/NAME.dict].
A timeout (one input over 10 s), an out-of-memory (an allocation over 1 GiB or
2 GiB resident: a size taken from the input and not checked against the file)
and a leak count as crashes. To reproduce one: BUILD/tests/fuzz/fuzz_NAME FILE
(or the gcc build's replay_NAME FILE); minimize it with fuzz_NAME
-minimize_crash=1 -runs=10000 FILE, then keep it in tests/fuzz/corpus/NAME/
so that ctest (fuzz_replay_NAME) guards the fix.
Exit status: 0 no crash, 1 a crash found (or a build failure), 2 bad usage.
EOF
}

seconds=300 parallel=1 build=$root/build-fuzz out=$root/runs/fuzz keep_going=0 do_build=1 jobs=2
names=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=${2:?}; shift 2 ;;
    --parallel) parallel=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --keep-going) keep_going=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
mkdir -p "$build" "$out"
build=$(cd "$build" && pwd) out=$(cd "$out" && pwd)
for v in "$seconds" "$parallel" "$jobs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
all=$(cd "$root/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
[ ${#names[@]} -gt 0 ] || read -r -a names <<<"$(echo $all)"
for n in "${names[@]}"; do
  grep -qx "$n" <<<"$all" || { echo "fuzz.sh: no harness '$n' (have: $(echo $all))" >&2; exit 2; }
done

# ---- build ----
if [ $do_build = 1 ]; then
  if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_C_COMPILER:.*clang' "$build/CMakeCache.txt"; then
    echo "fuzz.sh: $build was configured with another compiler than clang; give a new --build folder" >&2
    exit 2
  fi
  command -v clang >/dev/null && command -v clang++ >/dev/null ||
    { echo "fuzz.sh: needs clang and clang++ (apt-get install clang libclang-rt-dev)" >&2; exit 1; }
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCRATE_SANITIZE=ON \
    -DCRATE_FUZZ=ON -DCMAKE_C_FLAGS=-g -DCMAKE_CXX_FLAGS=-g >/dev/null
  targets=()
  for n in "${names[@]}"; do targets+=("fuzz_$n"); done
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
    { tail -30 "$build/fuzz-build.log" >&2; echo "fuzz.sh: build failed ($build/fuzz-build.log)" >&2; exit 1; }
fi
for n in "${names[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$n" ] || { echo "fuzz.sh: $build/tests/fuzz/fuzz_$n is not built" >&2; exit 1; }
done

# ---- campaigns ----
mkdir -p "$out/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local n=$1 dict=() mode=()
  mkdir -p "$out/work/$n" "$out/crashes/$n"
  [ ! -f "$root/tests/fuzz/dict/$n.dict" ] || dict=(-dict="$root/tests/fuzz/dict/$n.dict")
  [ $keep_going = 0 ] || mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  local start=$SECONDS
  # The harnesses make their temporary folders under TMPDIR: one per process.
  (cd "$out/work" && nice -n 10 "$build/tests/fuzz/fuzz_$n" -max_total_time="$seconds" -timeout=10 \
     -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 "${mode[@]}" "${dict[@]}" \
     -artifact_prefix="$out/crashes/$n/" "$out/work/$n" "$root/tests/fuzz/corpus/$n") \
    >"$out/logs/$n.log" 2>&1 || true
  echo $((SECONDS - start)) >"$out/logs/$n.seconds"
}

summary_line() {
  local n=$1 log=$out/logs/$n.log last execs cov ft corp crashes
  last=$(grep -E '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  # libFuzzer's corpus (inputs/bytes, seeds included), else the files of the work corpus.
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  [ -n "$corp" ] || corp="$(ls "$out/work/$n" | wc -l) new"
  crashes=$(ls "$out/crashes/$n" | grep -cE '^(crash|leak|timeout|oom)-' || true)
  printf '%-12s %8s %12s %7s %7s %12s %8s\n' "$n" "$(cat "$out/logs/$n.seconds")" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "$corp" "$crashes"
}

echo "fuzzing ${names[*]} for $seconds s each, $parallel at once; results in $out"
running=0
for n in "${names[@]}"; do
  if [ $running -ge "$parallel" ]; then wait -n || true; running=$((running - 1)); fi
  run_one "$n" &
  running=$((running + 1))
done
wait

{
  printf '%-12s %8s %12s %7s %7s %12s %8s\n' harness seconds execs cov ft corpus crashes
  for n in "${names[@]}"; do summary_line "$n"; done
} | tee "$out/summary.txt"
found=0
for n in "${names[@]}"; do
  for f in "$out/crashes/$n"/*; do
    [ -e "$f" ] || continue
    case $(basename "$f") in crash-*|leak-*|timeout-*|oom-*) echo "  $n: $f"; found=1 ;; esac
  done
done
[ $found = 0 ] || { echo "fuzz.sh: crashes found (reproduce: $build/tests/fuzz/fuzz_NAME FILE)"; exit 1; }
