# test_bad_input.sh BUILD_DIR — regression tests for defects a careless user
# found (the "bad input" issue; its numbers in brackets). Each case exits 2
# with a message naming the key, file or value and the fix, and nothing
# crashes (the sanitizer build runs this too):
#  [1]  checkpoint.resume naming a folder without a manifest (a typo), and a
#       run.dir with a line break in it;
#  [2]  a manifest whose total is huge, for crate-ckpt verify/info and crate-probe;
#  [3]  a tensor offset beyond total;
#  [12] a one-digit edit of the manifest (its checksum), a manifest without
#       its checksum line, and resealed edits: a param_count that the tensors
#       do not add up to, samples_seen, seed, a stored config that is no config;
#  [10] mae.mask_ratio = 0 and a patch as large as the image (a loss of 0);
#  [13] a FIFO as the config (no hang), a 400 KB deeply nested list (fast);
#  [14] a folder as the config, crate-probe --train-limit -1 and an unknown
#       option, crate-bench --limit-size 99999999.
set -u
. "$(dirname "$0")/lib.sh" "$1"
expect_timeout=60
pretrain=("$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train")

"${pretrain[@]}" run.dir="$tmp/good" schedule.steps=2 schedule.warmup_steps=1 >/dev/null 2>&1
check "a good checkpoint to damage" [ -f "$tmp/good/ckpt/step-000002/manifest.yaml" ]

# [1]
mkdir -p "$tmp/typo/ckpt/step-000001"
expect_2 "[1] checkpoint.resume at a folder without a manifest" "manifest.yaml" \
  "${pretrain[@]}" run.dir="$tmp/r1" checkpoint.resume="$tmp/typo/ckpt/step-000001"
expect_2 "[1] checkpoint.resume at a path that does not exist" "nowhere" \
  "${pretrain[@]}" run.dir="$tmp/r1" checkpoint.resume="$tmp/nowhere"
expect_2 "[1] a run.dir with a line break" "run.dir (command line) contains a line break" \
  "${pretrain[@]}" run.dir="$tmp/a
b"

# [2] [3] [12]: one edited line of a copied manifest each. An edit is first
# refused by the manifest's checksum; resealed, the checks behind it must
# still refuse what a crafted manifest claims.
edited() { # NAME SED_EXPRESSION: $tmp/NAME, the good checkpoint with its manifest edited
  rm -rf "$tmp/$1" && cp -r "$tmp/good/ckpt/step-000002" "$tmp/$1" && sed -i "$2" "$tmp/$1/manifest.yaml"
}
damaged() { # NAME SED_EXPRESSION: edited, then its checksum line recomputed
  edited "$1" "$2" && manifest_reseal "$tmp/$1/manifest.yaml"
}
edited step 's/^step: 2/step: 3/'
expect_2 "[12] a one-digit edit of step" "does not match its checksum" "$build/crate-ckpt" verify "$tmp/step"
expect_2 "[12] ... and resuming from it" "does not match its checksum" \
  "${pretrain[@]}" run.dir="$tmp/r12" checkpoint.resume="$tmp/step"
edited unsealed '$d'
expect_2 "[12] a manifest without its checksum line" "has none: truncated or edited" \
  "$build/crate-ckpt" verify "$tmp/unsealed"
damaged steps 's/^step: 2/step: 3/'
expect_2 "[12] a resealed step edit: samples_seen disagrees" "is not step 3 x global_batch" \
  "$build/crate-ckpt" verify "$tmp/steps"
damaged seed 's/^  seed: \(.*\)/  seed: 1\1/'
expect_2 "[12] a resealed seed edit: the stored config disagrees" "has run.seed .* the manifest says" \
  "$build/crate-ckpt" verify "$tmp/seed"
damaged badcfg 's/^    depth: .*/    depth: many/'
expect_2 "[12] a stored config that is no config" "the config stored in" "$build/crate-ckpt" verify "$tmp/badcfg"
damaged huge 's/^total: .*/total: 4611686018427387904/'
expect_2 "[2] crate-ckpt verify of a huge total" "total 4611686018427387904 .* out of range" \
  "$build/crate-ckpt" verify "$tmp/huge"
expect_2 "[2] crate-ckpt info of a huge total" "out of range" "$build/crate-ckpt" info "$tmp/huge"
expect_2 "[2] crate-probe --export-safetensors of a huge total" "out of range" \
  "$build/crate-probe" "$tmp/huge" --export-safetensors "$tmp/x.safetensors"
damaged far 's/offset: 64}/offset: 99999999}/'
expect_2 "[3] a tensor offset beyond total" "encoder.patch_norm_in.bias) at offset 99999999 does not fit" \
  "$build/crate-ckpt" verify "$tmp/far"
expect_2 "[3] ... crate-probe refuses it too" "does not fit" \
  "$build/crate-probe" "$tmp/far" --export-safetensors "$tmp/x.safetensors"
check "... and wrote no export" [ ! -e "$tmp/x.safetensors" ]
damaged count 's/^param_count: \([0-9]*\)/param_count: 1\1/'
expect_2 "[12] a param_count the tensors do not add up to" "but param_count is" "$build/crate-ckpt" verify "$tmp/count"

# [10]
expect_2 "[10] mae.mask_ratio=0" "masks none of the 16 patches" "${pretrain[@]}" run.dir="$tmp/r10" mae.mask_ratio=0
expect_2 "[10] a patch as large as the image" "masks none of the 1 patches" \
  "${pretrain[@]}" run.dir="$tmp/r10" model.patch=28

# [13] [14]
mkfifo "$tmp/fifo.yaml"
expect_2 "[13] a FIFO as the config" "is not a regular file" "$build/crate-pretrain" "$tmp/fifo.yaml"
{ printf 'model:\n  depth: '; head -c 400000 /dev/zero | tr '\0' '['; } >"$tmp/deep.yaml"
start=$SECONDS
expect_2 "[13] a 400 KB deeply nested list" "nested more than 4 levels deep" "$build/crate-pretrain" "$tmp/deep.yaml"
check "[13] ... refused within 5 s (took $((SECONDS - start)) s)" [ $((SECONDS - start)) -le 5 ]
mkdir "$tmp/cfgdir"
expect_2 "[14] a folder as the config" "is a folder: give the YAML file" "$build/crate-pretrain" "$tmp/cfgdir"
expect_2 "[14] crate-probe --train-limit -1" "needs a whole number from 0" \
  "$build/crate-probe" "$tmp/good/ckpt" --train "$tmp/D/train" --test "$tmp/D/test" --train-limit -1
expect_2 "[14] crate-probe with an unknown option" "unknown option '--tain'" \
  "$build/crate-probe" "$tmp/good/ckpt" --tain "$tmp/D/train" --test "$tmp/D/test"
expect_2 "[14] crate-bench --limit-size 99999999" "limit-size from 64 to 16384" \
  "$build/crate-bench" --limit-size 99999999
finish
