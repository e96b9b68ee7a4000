#!/usr/bin/env bash
# make_corpus.sh [BUILD_DIR] — regenerates the seed corpora of tests/fuzz/
# (corpus/NAME/seed-*) and the dictionaries (dict/*.dict) from real files
# written by crate's own tools in BUILD_DIR (default: build): small
# Fashion-MNIST shards (crate-data fashion-mnist), a token dataset with its
# tokenizer (crate-data text), checkpoints of 2-step runs (crate-toy-pretrain
# on 1 and 2 ranks, crate-pretrain mae and gpt2 at toy sizes), a safetensors
# export (crate-probe), the shipped and the test configs, the tests'
# overrides. Every run is seeded and uses relative paths, so the seeds are
# the same each time on the same machine. Files of the corpora not named
# seed-* (the reproducers of bugs found) are kept.
#
# Shrunk where the real file is large: the SentencePiece model crate-data
# trains (vocabulary 300 on GPL-3) is 242 KB, nearly all of it the nmt_nfkc
# normalization table; its seed drops that table (precompiled_charsmap,
# rule name "identity"), 4.4 KB, and is the tokenizer of the token dataset
# and of the gpt2 checkpoint. A second model keeps a precompiled table: the
# same training by Debian's spm_train with a six-rule normalization TSV
# (5.6 KB). Images are the first shards of a conversion with 2 records per
# block and 5 per shard (blocks of 2, 2, 1: a partial last block).
#
# Needs: the build's tools, dataset-fashion-mnist, /usr/share/common-licenses/
# GPL-3, python3, mpirun (the 2-rank checkpoint; skipped without it),
# spm_train (package sentencepiece; that seed skipped without it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
for tool in crate-data crate-pretrain crate-toy-pretrain crate-probe; do
  [ -x "$build/$tool" ] || { echo "make_corpus.sh: $build/$tool not built (cmake --build $build)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crate-fuzz-corpus-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export OMP_NUM_THREADS=1
SEP=$'\n==crate-fuzz-part==\n' # fuzz_common.h's FUZZ_SEP
log() { echo "make_corpus.sh: $*"; }
quiet() { "$@" >"$tmp/last.log" 2>&1 || { cat "$tmp/last.log" >&2; exit 1; }; }

out="$tmp/corpus"
names=(image_shard token_shard manifest checkpoint ckpt_shard config overrides safetensors spm)
for n in "${names[@]}"; do mkdir -p "$out/$n"; done

# seed NAME FILE MODE PART... : MODE (R or F, fuzz_common.h), then the parts
# separated by SEP; MODE - writes the parts without a mode byte or separator.
seed() {
  local name=$1 file=$2 mode=$3 first=1
  shift 3
  {
    [ "$mode" = - ] || printf '%s' "$mode"
    for part in "$@"; do
      [ $first = 1 ] || printf '%s' "$SEP"
      first=0
      cat "$part"
    done
  } >"$out/$name/seed-$file"
}

# ---- image shards ----------------------------------------------------------------
log "Fashion-MNIST shards"
quiet "$build/crate-data" fashion-mnist fm --records-per-block 2 --records-per-shard 5
mkdir -p d40/train d40/test
for i in 0 1 2 3 4 5 6 7; do cp "fm/train/shard-0000$i.crs" d40/train/; cp "fm/test/shard-0000$i.crs" d40/test/; done
seed image_shard train-0 R fm/train/shard-00000.crs
seed image_shard train-1-fix F fm/train/shard-00001.crs
seed image_shard test-last R "fm/test/$(ls fm/test | tail -1)"
seed image_shard train-set-3 R fm/train/shard-0000{0,1,2}.crs
seed image_shard test-set-2-fix F fm/test/shard-0000{0,1}.crs

# ---- tokenizers and token datasets ---------------------------------------------------
log "tokenizers and token datasets"
cp /usr/share/common-licenses/GPL-3 gpl.txt
head -c 4000 gpl.txt >small.txt
quiet "$build/crate-data" text --spm-train 300 gpl.txt full
python3 - full/train/tokenizer.model small.model <<'EOF'
# Drops normalizer_spec.precompiled_charsmap (ModelProto field 3, its field
# 2) and names the rule "identity": protobuf wire format, by hand.
import sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7f; v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v: return bytes(out)
def fields(b):
    i = 0
    while i < len(b):
        key, j = varint(b, i); num, wt = key >> 3, key & 7
        if wt == 0: _, k = varint(b, j); yield num, b[i:k], None; i = k
        elif wt == 1: yield num, b[i:j + 8], None; i = j + 8
        elif wt == 5: yield num, b[i:j + 4], None; i = j + 4
        elif wt == 2: n, k = varint(b, j); yield num, b[i:k + n], b[k:k + n]; i = k + n
        else: sys.exit("unexpected wire type %d" % wt)
out = bytearray()
for num, raw, payload in fields(open(sys.argv[1], "rb").read()):
    if num == 3 and payload is not None:
        spec = bytearray()
        for n2, r2, p2 in fields(payload):
            if n2 == 2: continue
            spec += b"\x0a\x08identity" if n2 == 1 else r2
        raw = b"\x1a" + enc_varint(len(spec)) + spec
    out += raw
open(sys.argv[2], "wb").write(out)
EOF
quiet "$build/crate-data" text --spm small.model --val-every 3 small.txt tok
seed spm crate-data-vocab300-no-charsmap - small.model
if command -v spm_train >/dev/null; then
  printf 'FB01\t66 69\nFF21\t41\nFF22\t42\n3000\t20\n2160\t49\nC5\t41 30A\n' >rules.tsv
  quiet spm_train --input=gpl.txt --model_prefix=rules --vocab_size=300 --normalization_rule_tsv=rules.tsv \
    --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 --user_defined_symbols='[MASK]' --character_coverage=1.0 \
    --num_threads=1 --minloglevel=2
  seed spm spm-train-vocab300-rules - rules.model
else
  log "no spm_train (package sentencepiece): skipping the model with a normalization table"
fi
seed token_shard train R tok/train/tokens.meta tok/train/tokenizer.model tok/train/shard-00000.crs
seed token_shard val-fix F tok/val/tokens.meta tok/val/tokenizer.model tok/val/shard-00000.crs
# A meta of one dataset with the shards of another: refused, the fuzzer starts from the check.
seed token_shard mixed-fix F tok/val/tokens.meta tok/val/tokenizer.model tok/train/shard-00000.crs
seed image_shard token-shard R tok/val/shard-00000.crs

# ---- checkpoints ------------------------------------------------------------------------
log "checkpoints of 2-step runs"
quiet "$build/crate-toy-pretrain" "$root/tests/fixtures/toy.yaml" run.dir=toy schedule.steps=2
if command -v mpirun >/dev/null; then
  mpi=(--oversubscribe)
  [ "$(id -u)" -ne 0 ] || mpi+=(--allow-run-as-root)
  quiet mpirun -np 2 "${mpi[@]}" -x OMP_NUM_THREADS=1 "$build/crate-toy-pretrain" "$root/tests/fixtures/toy.yaml" \
    run.dir=toy2 schedule.steps=2 dist.zero=1
else
  log "no mpirun: skipping the 2-rank checkpoint"
fi
quiet "$build/crate-pretrain" "$root/configs/mae-tiny.yaml" run.dir=mae data.train=d40/train model.dim=8 \
  model.depth=1 model.decoder_depth=1 schedule.steps=2 schedule.warmup_steps=1 schedule.global_batch=8
quiet "$build/crate-pretrain" "$root/configs/gpt2-tiny.yaml" run.dir=gpt data.train=tok/train data.val=tok/val \
  model.dim=8 model.depth=1 model.context=16 schedule.steps=2 schedule.warmup_steps=1 schedule.global_batch=4 \
  eval.every=0
mkdir -p v1
cp -r "$root/tests/fixtures/ckpt-v1/step-000004" v1/

# ckpt NAME DIR MODE: the checkpoint and manifest seeds of step folder DIR.
ckpt() {
  local name=$1 dir=$2 mode=$3 parts=("$2/manifest.yaml")
  for f in $(sed -n 's/^- {file: \([^,]*\),.*/\1/p; s/^- {name: \([^,]*\), bytes:.*/\1/p' "$dir/manifest.yaml"); do
    parts+=("$dir/$f")
  done
  seed checkpoint "$name" "$mode" "${parts[@]}"
  seed manifest "$name" "$mode" "$dir/manifest.yaml"
}
ckpt toy toy/ckpt/step-000002 R
ckpt mae-fix mae/ckpt/step-000002 F
ckpt gpt2 gpt/ckpt/step-000002 R
ckpt v1 v1/step-000004 R
[ ! -d toy2 ] || ckpt toy-2-ranks-fix toy2/ckpt/step-000002 F

# shard_seed NAME DIR SHARD WANT: a fuzz_ckpt_shard seed of shard number SHARD
# of DIR, the ranges its manifest implies, want "lo hi" (or "all").
shard_seed() {
  local name=$1 dir=$2 r=$3 want=$4 m=$2/manifest.yaml
  local version world total btotal sections line
  version=$(sed -n 's/^version: //p' "$m")
  world=$(sed -n 's/^world_size: //p' "$m")
  total=$(sed -n 's/^total: //p' "$m")
  btotal=$(sed -n '/^buffers:/,/^[a-z]/s/^  total: //p' "$m")
  sections=$(sed -n 's/^ *sections: \[\(.*\)\]/\1/p' "$m" | tr -d ',')
  line="v$([ "$version" = 1 ] && echo 1 || echo 2)"
  local ranges="" lo hi t
  for s in $sections; do
    t=$total
    [ "$s" != buffers ] || t=$btotal
    lo=$((r * t / world)); hi=$(((r + 1) * t / world))
    ranges+=" $lo $hi"
  done
  [ "$want" != all ] || want="$((r * total / world)) $(((r + 1) * total / world))"
  local file
  file=$(sed -n 's/^- {file: \([^,]*\),.*/\1/p' "$m" | sed -n "$((r + 1))p")
  { printf '%s want %s ranges%s\n' "$line" "$want" "$ranges"; cat "$dir/$file"; } >"$out/ckpt_shard/seed-$name"
}
shard_seed toy toy/ckpt/step-000002 0 all
shard_seed mae mae/ckpt/step-000002 0 all
shard_seed mae-window mae/ckpt/step-000002 0 "101 300"
shard_seed gpt2 gpt/ckpt/step-000002 0 all
shard_seed v1 v1/step-000004 0 all
if [ -d toy2 ]; then
  shard_seed toy-2-ranks-0 toy2/ckpt/step-000002 0 all
  shard_seed toy-2-ranks-1-window toy2/ckpt/step-000002 1 "40 120"
fi

# ---- safetensors ------------------------------------------------------------------------
log "safetensors exports"
quiet "$build/crate-probe" mae/ckpt --export-safetensors mae.safetensors
quiet "$build/crate-probe" mae/ckpt --export-safetensors mae-official.safetensors --names official
quiet "$build/crate-probe" gpt/ckpt --export-safetensors gpt2-official.safetensors --names official
for f in mae mae-official gpt2-official; do seed safetensors "$f" - "$f.safetensors"; done

# ---- configs and overrides ------------------------------------------------------------
log "configs and overrides"
for f in "$root"/configs/*.yaml; do seed config "configs-$(basename "$f" .yaml)" - "$f"; done
for f in "$root"/tests/fixtures/config/*.yaml "$root/tests/fixtures/toy.yaml"; do
  seed config "fixture-$(basename "$f" .yaml)" - "$f"
done
# The resolved config a checkpoint stores (its manifest's config block, de-indented).
sed -n '/^config: |/,/^[a-z]/{/^  /s/^  //p}' mae/ckpt/step-000002/manifest.yaml >resolved.yaml
seed config resolved-mae - resolved.yaml
ov() { printf '%s\n' "${@:2}" >"$out/overrides/seed-$1"; }
ov minimal data.train=d
ov readme data.train=/scratch/fm/train schedule.steps=500
ov depth data.train=x model.depth=12 model.eta=1e-4 model.head_dim=32 optim.lr=0.30000000000000004
ov numbers data.train=x model.depth=1e2 model.eta=.5 model.init_std=0.1 optim.min_lr=1e-7 mae.mask_ratio=0.995
ov gpt2 data.train=runs/data/kjv/train data.val=runs/data/kjv/val objective.name=gpt2 model.vocab_size=4096 \
  model.context=32 eval.every=20 eval.val_windows=64
ov torch-export data.train=x optim.lr=0 optim.min_lr=0 schedule.warmup_steps=0 schedule.steps=1
ov bad-values data.train=/x=y model.depth=0x10 mae.norm_pix_loss=maybe 'run.dir=we"' model.pos_embed=sincos\|learned
ov unknown modle.depth=3 model.dimm=3 data.test=

# ---- dictionaries: the config keys, from the schema's --help -----------------------------
mkdir -p "$tmp/dict"
"$build/crate-pretrain" --help 2>&1 | sed -n 's/^  \([a-z_0-9]*\)\.\([a-z_0-9]*\)=.*/\1 \2/p' | sort -u >keys.txt
{ awk '{print $1}' keys.txt | sort -u | sed 's/.*/"&:"/'; awk '{print $2}' keys.txt | sort -u | sed 's/.*/"&:"/'; } \
  >"$tmp/dict/config.dict"
awk '{print "\"" $1 "." $2 "=\""}' keys.txt >"$tmp/dict/overrides.dict"
[ -s keys.txt ] || { echo "make_corpus.sh: no keys in crate-pretrain --help" >&2; exit 1; }

# ---- install -----------------------------------------------------------------------------
for n in "${names[@]}"; do
  mkdir -p "$here/corpus/$n"
  rm -f "$here/corpus/$n"/seed-*
  cp "$out/$n"/seed-* "$here/corpus/$n/"
  big=$(find "$here/corpus/$n" -name 'seed-*' -size +64k)
  [ -z "$big" ] || log "over 64 KiB: $big"
done
mkdir -p "$here/dict"
cp "$tmp"/dict/*.dict "$here/dict/"
for n in "${names[@]}"; do
  printf '  %-12s %3d seeds %6d KiB\n' "$n" "$(ls "$here/corpus/$n" | grep -c '^seed-')" \
    "$(du -sk "$here/corpus/$n" | cut -f1)"
done
log "done: $(du -sh "$here/corpus" | cut -f1) in $here/corpus"
