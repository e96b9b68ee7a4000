# test_checkpoint_resume.sh BUILD_DIR — resuming continues exactly:
#  - 40 steps straight vs 20 (run.stop_after) + resume + 20 on the same rank
#    count (1 and 2 ranks): the logged losses of steps 1-40 and the final
#    checkpoints (parameters and AdamW moments) are bitwise identical;
#  - resharding: written by W ranks, resumed on W' (2→1, 1→4) with dist.zero
#    0 and 1 on either side: losses of steps 21-40 within 1e-4 relative of the
#    straight run, final parameters within 1e-4;
#  - re-running a finished run.stop_after=N trains nothing more;
#  - a checkpoint of format version 1 (tests/fixtures/ckpt-v1, written by
#    crate before named sections, mae-tiny at dim 8) verifies, resumes and
#    trains on; its continuation is saved as version 3;
#  - a different model or global batch is refused with the reason.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# train NAME RANKS [overrides...]
train() {
  local name=$1 ranks=$2
  shift 2
  pretrain_tiny "$ranks" "$tmp/$name" schedule.steps=40 log.every=1 dist.threads_per_rank=1 "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
# worst_rel A B: the largest relative difference of two loss lists.
worst_rel() {
  paste <(losses "$1") <(losses "$2") | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'
}

for w in 1 2; do
  train "straight$w" "$w"
  check "straight run on $w ranks exits 0" [ $? -eq 0 ]
  train "split$w" "$w" run.stop_after=20
  check "stop_after on $w ranks exits 0" [ $? -eq 0 ]
  check "stop_after left step-000020" [ -f "$tmp/split$w/ckpt/step-000020/manifest.yaml" ]
  check "resume on $w ranks exits 0" [ $? -eq 0 ]
  train "split$w" "$w" run.stop_after=20
  check "a finished stop_after on $w ranks exits 0" [ $? -eq 0 ]
  check "... and says there is nothing to do" grep -q "already at step 20, where run.stop_after = 20 stops" "$tmp/split$w.txt"
  check "... training no step (20 metrics lines, no step 21)" [ "$(losses "split$w" | wc -l)" -eq 20 ]
  train "split$w" "$w"
  check "resume on $w ranks said so" grep -q "resumed from .*step-000020" "$tmp/split$w.txt"
  check "40 metrics lines, each step once ($w ranks)" [ "$(losses "split$w" | wc -l)" -eq 40 ]
  check "losses of steps 1-40 bitwise equal ($w ranks)" cmp -s <(losses "straight$w") <(losses "split$w")
  "$build/crate-ckpt" diff "$tmp/straight$w/ckpt" "$tmp/split$w/ckpt" >"$tmp/diff$w.txt"
  check "final parameters and moments bitwise equal ($w ranks)" [ "$(grep -c "bitwise identical" "$tmp/diff$w.txt")" -eq 3 ]
done

# reshard NAME W ZERO_W W' ZERO_W'
reshard() {
  local name=$1
  train "$name" "$2" run.stop_after=20 dist.zero="$3"
  train "$name" "$4" dist.zero="$5"
  check "$name: resumed on $4 ranks from $2" grep -q "resumed from .*step-000020 (step 20, written by $2 ranks)" "$tmp/$name.txt"
  local worst
  worst=$(worst_rel straight1 "$name")
  echo "$name: largest relative loss difference over steps 1-40: $worst"
  check "$name: losses within 1e-4" awk -v w="$worst" 'BEGIN { exit !(w < 1e-4) }'
  "$build/crate-ckpt" diff "$tmp/straight1/ckpt" "$tmp/$name/ckpt" >"$tmp/$name.diff"
  local p
  p=$(json_field "$tmp/$name.diff" params_max_abs)
  echo "$name: largest final parameter difference: $p"
  check "$name: final parameters within 1e-4" awk -v p="$p" 'BEGIN { exit !(p < 1e-4) }'
}
reshard w2_to_w1 2 0 1 0
reshard w2z_to_w1 2 1 1 0
reshard w1_to_w4 1 0 4 0
reshard w1_to_w4z 1 0 4 1
reshard w2z_to_w4z 2 1 4 1

v1=(model.dim=8 model.heads=2 model.depth=1 schedule.warmup_steps=1)
"$build/crate-ckpt" verify tests/fixtures/ckpt-v1/step-000004 >"$tmp/v1.txt" 2>&1
check "a version-1 checkpoint verifies" grep -q "ok: step 4, 1 shards of 3 sections verified" "$tmp/v1.txt"
for w in 1 2; do
  mkdir -p "$tmp/v1_w$w/ckpt" && cp -r tests/fixtures/ckpt-v1/step-000004 "$tmp/v1_w$w/ckpt/"
  train "v1_w$w" "$w" "${v1[@]}" schedule.steps=8
  check "a version-1 checkpoint resumes on $w ranks" grep -q "resumed from .*step-000004 (step 4, written by 1 ranks)" "$tmp/v1_w$w.txt"
  check "... and trains steps 5-8" [ "$(losses "v1_w$w" | wc -l)" -eq 4 ]
  "$build/crate-ckpt" info "$tmp/v1_w$w/ckpt" >"$tmp/v1_w$w.info"
  check "... saving version 3" grep -q "format version 3, sections: params exp_avg exp_avg_sq" "$tmp/v1_w$w.info"
done
check "the version-1 continuation agrees on 1 and 2 ranks" \
  awk -v w="$(worst_rel v1_w1 v1_w2)" 'BEGIN { exit !(w < 1e-5) }'

train other_model 1 model.dim=48 run.dir="$tmp/straight1"
check "another model is refused (exit 2)" [ $? -eq 2 ]
check "the refusal names the tensor and the fix" grep -q "another shape or order.*another run.dir" "$tmp/other_model.txt"
train other_batch 1 schedule.global_batch=64 run.dir="$tmp/straight1"
check "another global batch is refused" grep -q "schedule.global_batch 32; this run has run.seed 1 and schedule.global_batch 64" "$tmp/other_batch.txt"
finish
