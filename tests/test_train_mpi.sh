# test_train_mpi.sh BUILD_DIR — data parallelism does not change the answer:
# mae-tiny for 20 steps at the same schedule.global_batch (32) on 1, 2 and 4
# ranks (one thread each, oversubscribed), with dist.zero 0 and 1, and on one
# rank with gradient accumulation (4 micro-steps of 8), with small gradient
# buckets (many overlapped allreduces or owner reductions per step) and with
# overlap off, logs the same loss at every step as the 1-rank run, to 1e-4
# relative, and ends with final parameters within 1e-4 of it (crate-ckpt diff
# of the final checkpoints), on the default GEMM backend and on OpenBLAS.
# Ranks split the global batch; every random choice belongs to a sample, not
# to a rank.
# At bf16 (compute.precision: bf16, a build with oneDNN) 2 and 4 ranks agree
# with 1 rank at bf16 to bf16's rounding, not to fp32's: the ranks' fp32
# gradient sums differ in their last bit (summation order), and a weight one
# ulp from a bf16 rounding boundary then rounds the other way (2⁻⁹ relative)
# in every later product. Measured: loss within 1.1e-4, parameters within
# 1.9e-3 (under one AdamW step at lr 3e-3; a parameter whose gradient is
# near zero takes Adam steps of either sign). The test holds the loss to
# 1e-3 and a third of what bf16 itself changes against fp32 (7.8e-4), the
# parameters to 1e-2 and to less than bf16 changes them (6.2e-3).
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

# max_rel_diff A B: the largest |a − b| / |a| of two files of one number a line.
max_rel_diff() {
  paste "$1" "$2" | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'
}

# agree BASE NAME RANKS [overrides...]: runs NAME and compares it with BASE,
# to tol_loss (relative, every step) and tol_param (largest difference).
tol_loss=1e-4 tol_param=1e-4
agree() {
  local base=$1
  shift
  run "$@"
  worst=$(max_rel_diff "$tmp/$base.loss" "$tmp/$1.loss")
  echo "$1: largest relative loss difference to $base over 20 steps: $worst"
  check "$1 agrees with $base to $tol_loss" awk -v w="$worst" -v t="$tol_loss" 'BEGIN { exit !(w < t) }'
  "$build/crate-ckpt" diff "$tmp/$base/ckpt" "$tmp/$1/ckpt" >"$tmp/$1.diff"
  p=$(json_field "$tmp/$1.diff" params_max_abs)
  echo "$1: final parameters: largest difference to $base $p ($(grep -c "bitwise identical" "$tmp/$1.diff") of 3 sections bitwise)"
  check "$1 final parameters agree with $base to $tol_param" awk -v p="$p" -v t="$tol_param" 'BEGIN { exit !(p < t) }'
}

run w1 1
for case in "w2 2" "w4 4" "w2_zero 2 dist.zero=1" "w4_zero 4 dist.zero=1" "w1_accum 1 schedule.micro_batch=8" \
  "w4_buckets 4 dist.bucket_mb=0.01" "w4_zero_buckets 4 dist.zero=1 dist.bucket_mb=0.01" \
  "w2_accum_buckets 2 schedule.micro_batch=4 dist.bucket_mb=0.02" "w2_no_overlap 2 dist.overlap=false"; do
  agree w1 $case
done
# The reference backend (the default is onednn when built): 2 and 4 ranks.
run w1_openblas 1 compute.gemm=openblas
check "w1_openblas names OpenBLAS GEMMs" grep -q "GEMMs openblas fp32" "$tmp/w1_openblas.txt"
agree w1_openblas w2_openblas 2 compute.gemm=openblas
agree w1_openblas w4_openblas 4 compute.gemm=openblas
if grep -q "^DNNL_LIBRARY:FILEPATH=/" "$build/CMakeCache.txt" 2>/dev/null && grep -q "^CRATE_ONEDNN:BOOL=ON" "$build/CMakeCache.txt"; then
  run w1_bf16 1 compute.precision=bf16
  check "w1_bf16 names bf16 GEMMs" grep -q "GEMMs onednn bf16" "$tmp/w1_bf16.txt"
  "$build/crate-ckpt" diff "$tmp/w1/ckpt" "$tmp/w1_bf16/ckpt" >"$tmp/w1_bf16.diff"
  loss16=$(max_rel_diff "$tmp/w1.loss" "$tmp/w1_bf16.loss")
  param16=$(json_field "$tmp/w1_bf16.diff" params_max_abs)
  echo "w1_bf16 against fp32 (w1): largest relative loss difference $loss16, parameters $param16"
  tol_loss=$(awk -v a="$loss16" 'BEGIN { t = a / 3; print t < 1e-3 ? t : 1e-3 }')
  tol_param=$(awk -v a="$param16" 'BEGIN { print a < 1e-2 ? a : 1e-2 }')
  agree w1_bf16 w2_bf16 2 compute.precision=bf16
  agree w1_bf16 w4_bf16 4 compute.precision=bf16
else
  echo "bf16 rank agreement skipped: this build has no oneDNN"
fi
# With two ranks every float of the gradient sum is a + b, which rounds the
# same whatever collective (allreduce or reduce to the owner), bucketing or
# overlap produced it: those 2-rank variants must equal each other bitwise.
for other in w2_zero w2_no_overlap; do
  check "$other final state bitwise equal to w2" [ "$("$build/crate-ckpt" diff "$tmp/w2/ckpt" "$tmp/$other/ckpt" | grep -c "bitwise identical")" -eq 3 ]
done
check "ZeRO-1 reported" grep -q "ZeRO-1" "$tmp/w4_zero.txt"
finish
