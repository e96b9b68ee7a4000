#!/usr/bin/env bash
# bench-scaling.sh [BUILD_DIR] [STEPS] [RANKS] — weak scaling of crate-pretrain
# on this machine: configs/mae.yaml with a FIXED per-rank batch (64 images) on
# 1 rank × 1 thread, then RANKS (default 2) ranks × 1 thread with the gradient
# allreduce overlapping backward (dist.overlap=true) and not (false). Prints,
# per case, ms/step, images/s, the share of the step spent blocked on gradient
# communication (comm_wait_ms from metrics.jsonl) and the share of gradient
# floats whose sum had completed when backward ended (comm_early), then the
# weak-scaling efficiency  E = (images/s on RANKS) / (RANKS × images/s on 1).
# More ranks than cores oversubscribe them: E then measures the sharing, and
# comm_early is the figure to read. CRATE_MPI_ARGS adds mpirun arguments
# (e.g. "--mca btl tcp,self" for TCP loopback instead of shared memory).
# The first 20 steps (start-up, page faults, cache warm-up) are not counted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
steps=${2:-100}
ranks=${3:-2}
data=${CRATE_DATA_DIR:-$root/runs/data/fashion-mnist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -d "$data/train" ] || "$build/crate-data" fashion-mnist "$data" >/dev/null
flags=(--oversubscribe)
# shellcheck disable=SC2206 # CRATE_MPI_ARGS is a list of words
flags+=(${CRATE_MPI_ARGS:-})
[ "$(id -u)" -ne 0 ] || flags+=(--allow-run-as-root)
# One rank per core, bound; more ranks than cores cannot be bound to one each.
if [ "$ranks" -le "$(nproc)" ]; then flags+=(--bind-to core); else flags+=(--bind-to none); fi

# run NAME RANKS [overrides...]: trains, then prints "ms_per_step img_per_s comm_wait_ms
# comm_early" averaged over the logged windows after step 20 (comm_early 0 on one rank).
run() {
  local name=$1 ranks=$2
  shift 2
  mpirun -np "$ranks" "${flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" \
    "$root/configs/mae.yaml" data.train="$data/train" run.dir="$out/$name" schedule.steps="$steps" \
    schedule.warmup_steps=10 schedule.global_batch=$((64 * ranks)) dist.threads_per_rank=1 log.every=10 \
    "$@" >"$out/$name.log" 2>&1 || { cat "$out/$name.log" >&2; exit 1; }
  tr -d '{}"' <"$out/$name/metrics.jsonl" | awk -F'[:,]' '{ for (i = 1; i < NF; i += 2) v[$i] = $(i + 1) }
    v["step"] > 20 { ms += v["ms_per_step"]; ips += v["samples_per_s"]; w += v["comm_wait_ms"]; e += v["comm_early"]; n++ }
    END { printf "%.1f %.1f %.2f %.3f\n", ms / n, ips / n, w / n, e / n }'
}

report() { # NAME "ms ips wait early"
  set -- "$1" $2
  printf "%-24s %8.1f ms/step %8.1f img/s   comm wait %6.2f ms/step (%4.1f%% of the step), %5.1f%% summed before backward ended\n" \
    "$1" "$2" "$3" "$4" "$(awk -v w="$4" -v ms="$2" 'BEGIN { print 100 * w / ms }')" "$(awk -v e="$5" 'BEGIN { print 100 * e }')"
}

one=$(run w1 1)
on=$(run w${ranks}_overlap "$ranks" dist.overlap=true)
off=$(run w${ranks}_no_overlap "$ranks" dist.overlap=false)
echo "crate weak scaling: configs/mae.yaml, 64 images per rank, $steps steps (steps 21-$steps averaged)"
report "1 rank x 1 thread" "$one"
report "$ranks ranks, overlap on" "$on"
report "$ranks ranks, overlap off" "$off"
for c in "overlap on:$on" "overlap off:$off"; do
  awk -v name="${c%%:*}" -v r="$ranks" -v a="$one" -v b="${c#*:}" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "weak-scaling efficiency, %s: %.1f%%\n", name, 100 * y[2] / (r * x[2]) }'
done
