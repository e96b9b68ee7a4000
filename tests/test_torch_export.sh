# test_torch_export.sh BUILD_DIR — exports PyTorch users load, and imports
# (init.from) of what they or crate exported:
#  - an MAE encoder (configs/mae-tiny.yaml, fixed sin-cos positions, and
#    again with learned ones) and a CRATE-GPT (configs/gpt2-tiny.yaml) trained
#    a few steps are exported with --names official; tests/torch_crate.py
#    builds the official models' module trees in PyTorch (Debian's
#    python3-torch), loads each export with load_state_dict(strict=True),
#    runs the inputs crate-reference-outputs ran through crate and matches
#    crate's outputs to 1e-4 relative (image: cls+mean features of every
#    layer; text: the logits of every position);
#  - export → init.from (a run with learning rate 0) → export gives the same
#    bytes, for crate names and official names, image and text, and on 2
#    ranks as on 1;
#  - an official (encoder-only) import into MAE keeps the decoder's init, an
#    MAE model's import into DINO skips the decoder and keeps the head's init,
#    and both say so; a resumed run does not read init.from again;
#  - bad input: a file for another model size, image weights into a text
#    model, a missing file, an official export of a model the official code
#    does not have (gpt2 with its final LayerNorm) — each exit 2 naming the
#    tensor, file or key.
set -u
. "$(dirname "$0")/lib.sh" "$1"
PY=/usr/bin/python3
still() { echo "optim.lr=0 optim.min_lr=0 schedule.warmup_steps=0 schedule.steps=1"; }
export_of() { "$build/crate-probe" "$@" >>"$tmp/export.txt" 2>&1; }

# --- the image encoder ---
for pos in sincos learned; do
  pretrain_tiny 1 "$tmp/m-$pos" schedule.steps=3 schedule.warmup_steps=1 model.pos_embed=$pos >"$tmp/m-$pos.txt" 2>&1
  check "mae-tiny ($pos positions): 3 steps" [ $? -eq 0 ]
  export_of "$tmp/m-$pos/ckpt" --export-safetensors "$tmp/m-$pos.official.safetensors" --names official
  check "official export ($pos): exit 0" [ $? -eq 0 ]
  mkdir -p "$tmp/ref-$pos"
  "$build/crate-reference-outputs" "$tmp/m-$pos/ckpt" "$tmp/ref-$pos" 16 1x28x28
  check "crate's features of 16 random images ($pos)" [ $? -eq 0 ]
  "$PY" tests/torch_crate.py "$tmp/m-$pos.official.safetensors" "$tmp/ref-$pos" | tee "$tmp/torch-$pos.txt"
  check "PyTorch CRATE ($pos positions): strict load, features within 1e-4" [ "${PIPESTATUS[0]}" -eq 0 ]
done
check "the MAE decoder is left out of the official export" grep -q "left out" "$tmp/export.txt"

# export -> import -> export, crate names (the whole model) and official names
export_of "$tmp/m-sincos/ckpt" --export-safetensors "$tmp/m.crate.safetensors"
pretrain_tiny 1 "$tmp/i-crate" init.from="$tmp/m.crate.safetensors" $(still) >"$tmp/i-crate.txt" 2>&1
check "init.from (crate names): exit 0" [ $? -eq 0 ]
check "... every tensor came from the file" grep -q "init.from: .* (crate names)$" "$tmp/i-crate.txt"
export_of "$tmp/i-crate/ckpt" --export-safetensors "$tmp/i-crate.safetensors"
check "export -> import -> export (crate names): identical bytes" cmp "$tmp/m.crate.safetensors" "$tmp/i-crate.safetensors"

pretrain_tiny 2 "$tmp/i-crate2" init.from="$tmp/m.crate.safetensors" $(still) >"$tmp/i-crate2.txt" 2>&1
check "init.from on 2 ranks: exit 0" [ $? -eq 0 ]
export_of "$tmp/i-crate2/ckpt" --export-safetensors "$tmp/i-crate2.safetensors"
check "... every rank started from the file: the same bytes as on 1 rank" \
  cmp "$tmp/i-crate.safetensors" "$tmp/i-crate2.safetensors"
mpirun -np 1 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/dino-tiny.yaml \
  data.train="$tmp/D/train" run.dir="$tmp/i-dino" init.from="$tmp/m.crate.safetensors" schedule.steps=2 \
  schedule.warmup_steps=0 >"$tmp/i-dino.txt" 2>&1
check "an MAE model into a DINO run (crate names): exit 0" [ $? -eq 0 ]
check "... the decoder is skipped and the head keeps its init, and the run says so" \
  grep -q "are not in this model (decoder\.\*); 7 keep their random init (head\.\*)" "$tmp/i-dino.txt"

pretrain_tiny 1 "$tmp/i-off" init.from="$tmp/m-sincos.official.safetensors" $(still) >"$tmp/i-off.txt" 2>&1
check "init.from (official names): exit 0" [ $? -eq 0 ]
check "... the decoder keeps its init, and the run says so" grep -q "official CRATE names); 13 keep their random init (decoder\.\*)" "$tmp/i-off.txt"
export_of "$tmp/i-off/ckpt" --export-safetensors "$tmp/i-off.safetensors" --names official
check "export -> import -> export (official names): identical bytes" \
  cmp "$tmp/m-sincos.official.safetensors" "$tmp/i-off.safetensors"
pretrain_tiny 1 "$tmp/i-off" init.from="$tmp/m-sincos.official.safetensors" $(still) schedule.steps=2 >"$tmp/i-off2.txt" 2>&1
check "a resumed run: exit 0" [ $? -eq 0 ]
check "... resumes and does not read init.from" sh -c "grep -q 'resumed from' '$tmp/i-off2.txt' && ! grep -q '^init.from:' '$tmp/i-off2.txt'"

pretrain_tiny 1 "$tmp/bad-dim" init.from="$tmp/m.crate.safetensors" model.dim=64 >"$tmp/bad-dim.txt" 2>&1
check "init.from of another model size: exit 2" [ $? -eq 2 ]
check "... names the tensor, both shapes and the fix" grep -q "is (.*) in the file but (.*) in this model: change the model section" "$tmp/bad-dim.txt"
pretrain_tiny 1 "$tmp/bad-missing" init.from="$tmp/nowhere.safetensors" >"$tmp/bad-missing.txt" 2>&1
check "init.from of a missing file: exit 2 naming it" sh -c "[ $? -eq 2 ] && grep -q 'nowhere.safetensors' '$tmp/bad-missing.txt'"

# --- the causal language model ---
license_text "$tmp/T" >/dev/null 2>&1
check "token shards for gpt2-tiny" [ -d "$tmp/T/train" ]
train_text configs/gpt2-tiny.yaml g 1 schedule.steps=3 schedule.warmup_steps=1 eval.every=0
check "gpt2-tiny: 3 steps" [ $? -eq 0 ]
export_of "$tmp/g/ckpt" --export-safetensors "$tmp/g.official.safetensors" --names official
check "official export (gpt2): exit 0" [ $? -eq 0 ]
mkdir -p "$tmp/ref-g"
"$build/crate-reference-outputs" "$tmp/g/ckpt" "$tmp/ref-g" 4
check "crate's logits of 4 random windows" [ $? -eq 0 ]
"$PY" tests/torch_crate.py "$tmp/g.official.safetensors" "$tmp/ref-g" | tee "$tmp/torch-g.txt"
check "PyTorch CRATE-GPT: strict load, logits within 1e-4" [ "${PIPESTATUS[0]}" -eq 0 ]
train_text configs/gpt2-tiny.yaml gi 1 init.from="$tmp/g.official.safetensors" eval.every=0 $(still)
check "init.from (official CRATE-GPT): exit 0" [ $? -eq 0 ]
export_of "$tmp/gi/ckpt" --export-safetensors "$tmp/gi.official.safetensors" --names official
check "export -> import -> export (CRATE-GPT, official names): identical bytes" \
  cmp "$tmp/g.official.safetensors" "$tmp/gi.official.safetensors"
train_text configs/gpt2-tiny.yaml bad-kind 1 init.from="$tmp/m-sincos.official.safetensors" eval.every=0
check "image weights into a text model: exit 2" [ $? -eq 2 ]
check "... naming the tensor" grep -q "'to_patch_embedding.1.weight' is no parameter of the official CRATE-GPT" "$tmp/bad-kind.txt"
train_text configs/gpt2-tiny.yaml gn 1 schedule.steps=1 schedule.warmup_steps=0 eval.every=0 gpt2.final_norm=true
"$build/crate-probe" "$tmp/gn/ckpt" --export-safetensors "$tmp/gn.safetensors" --names official >"$tmp/gn-export.txt" 2>&1
check "official export of a gpt2 with a final LayerNorm: exit 2" [ $? -eq 2 ]
check "... says why and what to use instead" grep -q "no final LayerNorm: export with --names crate" "$tmp/gn-export.txt"
finish
