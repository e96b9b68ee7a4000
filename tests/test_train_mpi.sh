# test_train_mpi.sh BUILD_DIR — data parallelism does not change the answer:
# mae-tiny for 20 steps at the same schedule.global_batch (32) on 1, 2 and 4
# ranks (one thread each, oversubscribed), with dist.zero 0 and 1, and on one
# rank with gradient accumulation (4 micro-steps of 8), with small gradient
# buckets (many overlapped allreduces or owner reductions per step) and with
# overlap off, logs the same loss at every step as the 1-rank run, to 1e-4
# relative, and ends with final parameters within 1e-4 of it (crate-ckpt diff
# of the final checkpoints). Ranks split the global
# batch; every random choice belongs to a sample, not to a rank.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# run NAME RANKS [overrides...]: trains and extracts the per-step losses.
run() {
  local name=$1 ranks=$2
  shift 2
  pretrain_tiny "$ranks" "$tmp/$name" schedule.steps=20 "$@" >"$tmp/$name.txt" 2>&1
  check "$name: exit 0" [ $? -eq 0 ]
  json_field "$tmp/$name/metrics.jsonl" loss >"$tmp/$name.loss"
  check "$name: 20 losses logged" [ "$(wc -l <"$tmp/$name.loss")" -eq 20 ]
}

run w1 1
for case in "w2 2" "w4 4" "w2_zero 2 dist.zero=1" "w4_zero 4 dist.zero=1" "w1_accum 1 schedule.micro_batch=8" \
  "w4_buckets 4 dist.bucket_mb=0.01" "w4_zero_buckets 4 dist.zero=1 dist.bucket_mb=0.01" \
  "w2_accum_buckets 2 schedule.micro_batch=4 dist.bucket_mb=0.02" "w2_no_overlap 2 dist.overlap=false"; do
  set -- $case
  run "$@"
  worst=$(paste "$tmp/w1.loss" "$tmp/$1.loss" | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }')
  echo "$1: largest relative loss difference to 1 rank over 20 steps: $worst"
  check "$1 agrees with 1 rank to 1e-4" awk -v w="$worst" 'BEGIN { exit !(w < 1e-4) }'
  "$build/crate-ckpt" diff "$tmp/w1/ckpt" "$tmp/$1/ckpt" >"$tmp/$1.diff"
  p=$(json_field "$tmp/$1.diff" params_max_abs)
  echo "$1: final parameters: largest difference to 1 rank $p ($(grep -c "bitwise identical" "$tmp/$1.diff") of 3 sections bitwise)"
  check "$1 final parameters agree with 1 rank to 1e-4" awk -v p="$p" 'BEGIN { exit !(p < 1e-4) }'
done
# With two ranks every float of the gradient sum is a + b, which rounds the
# same whatever collective (allreduce or reduce to the owner), bucketing or
# overlap produced it: those 2-rank variants must equal each other bitwise.
for other in w2_zero w2_no_overlap; do
  check "$other final state bitwise equal to w2" [ "$("$build/crate-ckpt" diff "$tmp/w2/ckpt" "$tmp/$other/ckpt" | grep -c "bitwise identical")" -eq 3 ]
done
check "ZeRO-1 reported" grep -q "ZeRO-1" "$tmp/w4_zero.txt"
finish
