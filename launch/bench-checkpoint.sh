#!/usr/bin/env bash
# bench-checkpoint.sh [BUILD_DIR] [RANKS] — save and load time, size and
# MB/s per rank of a CRATE-B-sized MAE checkpoint (d=768, 12 heads, 12 encoder
# and 12 decoder layers: 42.6M parameters, 511 MB of parameters + AdamW
# moments) on Fashion-MNIST, at lz4 level 0 (fast) and 9 (lz4hc). Each case
# trains one step, saves (run.stop_after=1), then resumes with the page cache
# dropped (when allowed) to time a cold load.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
ranks=${2:-2}
data=${CRATE_DATA_DIR:-$root/runs/data/fashion-mnist}
out=$(mktemp -d "${TMPDIR:-/tmp}/crate-bench-ckpt-XXXXXX")
trap 'rm -rf "$out"' EXIT
[ -d "$data/train" ] || "$build/crate-data" fashion-mnist "$data" >/dev/null
flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || flags+=(--allow-run-as-root)
model=(model.dim=768 model.heads=12 model.depth=12 model.decoder_depth=12)

train() { # RUN_DIR LEVEL STOP_AFTER
  mpirun -np "$ranks" "${flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" "$root/configs/mae.yaml" \
    data.train="$data/train" run.dir="$1" "${model[@]}" schedule.steps=3 schedule.warmup_steps=1 \
    run.stop_after="$3" checkpoint.level="$2" dist.threads_per_rank=1 2>&1
}

echo "crate checkpoint benchmark: CRATE-B-sized MAE, $ranks ranks"
for level in 0 9; do
  run=$out/level$level
  save=$(train "$run" "$level" 1 | sed -n 's/.*checkpoint step-000001 saved in \([0-9.]*\) s.*/\1/p')
  bytes=$(du -sb "$run/ckpt/step-000001" | cut -f1)
  raw=$("$build/crate-ckpt" info "$run/ckpt" | sed -n 's/.*of the raw \([0-9.]*\) MB.*/\1/p')
  sync
  dropped=no
  if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then dropped=yes; fi
  load=$(train "$run" "$level" 2 | sed -n 's/.*resumed from .* in \([0-9.]*\) s.*/\1/p')
  awk -v l="$level" -v s="$save" -v ld="$load" -v b="$bytes" -v raw="$raw" -v r="$ranks" -v cold="$dropped" 'BEGIN {
    mb = raw / r
    printf "lz4 level %d: %.1f MB on disk for %.1f MB raw (ratio %.3f); save %.2f s = %.0f MB/s per rank; " \
           "load %.2f s = %.0f MB/s per rank (cold cache: %s)\n", l, b / 1e6, raw, b / 1e6 / raw, s, mb / s, ld, mb / ld, cold }'
done
