# test_train_alpha.sh BUILD_DIR — the CRATE-α block (model.block:
# crate-alpha) trained end to end under an image and a text objective:
#  - MAE (configs/mae-tiny.yaml): 1, 2 and 4 ranks log the same loss at every
#    step (≤ 1e-4 relative); 40 steps straight vs 20 (run.stop_after) +
#    resume: losses and the final params and moments bitwise equal; the loss
#    falls; the checkpoint holds α's dictionaries (ista.dict, ista.out_dict,
#    no bias on MSSA's O) and crate-analyze measures its code A₂;
#  - GPT-2 (configs/gpt2-tiny.yaml): 1 and 2 ranks the same losses, resume
#    bitwise, and crate-generate decodes greedily from the checkpoint.
set -u
. "$(dirname "$0")/lib.sh" "$1"
alpha=(model.block=crate-alpha model.ista_expand=4)
mae() {
  local name=$1 ranks=$2
  shift 2
  pretrain_tiny "$ranks" "$tmp/$name" "${alpha[@]}" schedule.steps=40 schedule.warmup_steps=4 log.every=1 "$@" \
    >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }

mae m1 1
check "MAE, 1 rank: exit 0" [ $? -eq 0 ]
check "MAE, 1 rank: 40 losses" [ "$(losses m1 | wc -l)" -eq 40 ]
first=$(losses m1 | head -1) last=$(losses m1 | tail -5 | awk '{ s += $1 } END { print s / NR }')
echo "MAE, 1 rank: first loss $first, mean of the last 5 $last"
check "MAE: the loss falls" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }'
for r in 2 4; do
  mae "m$r" "$r"
  check "MAE, $r ranks: exit 0" [ $? -eq 0 ]
  check_same_curves m1 "MAE, $r ranks" "m$r" losses
done
mae msplit 1 run.stop_after=20
mae msplit 1
check_resumed m1 msplit 20
manifest="$tmp/m1/ckpt/step-000040/manifest.yaml"
check "the checkpoint holds the dictionaries D and D1" \
  grep -q "name: encoder.layers.0.ista.out_dict" "$manifest" && grep -q "name: encoder.layers.0.ista.dict" "$manifest"
check "... and MSSA's O has no bias" bash -c "! grep -q 'name: encoder.layers.0.mssa.out.bias' '$manifest'"
"$build/crate-analyze" "$tmp/m1/ckpt" --data "$tmp/D/test" --images 16 --threads 1 >"$tmp/a.txt" 2>&1
check "crate-analyze measures the α encoder" [ "$(grep -c '^{"layer"' "$tmp/a.txt")" -ge 1 ]

license_text "$tmp/T" >/dev/null 2>&1
gpt() { train_text configs/gpt2-tiny.yaml "$@" "${alpha[@]}"; }
gpt g1 1
check "GPT-2, 1 rank: exit 0" [ $? -eq 0 ]
gpt g2 2
check_same_curves g1 "GPT-2, 2 ranks" g2 losses
gpt gsplit 1 run.stop_after=20
gpt gsplit 1
check_resumed g1 gsplit 20
"$build/crate-generate" "$tmp/g1/ckpt" --prompt "The" --tokens 8 --temperature 0 >"$tmp/gen.txt" 2>&1
check "crate-generate decodes from the α checkpoint" [ $? -eq 0 ]
finish
