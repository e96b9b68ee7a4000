#!/usr/bin/env bash
# quickstart.sh [CONFIG] [section.key=value ...] — from a fresh Debian machine
# to a training CRATE model: installs the packages, builds, prepares the data
# and trains CONFIG (default configs/mae.yaml) on 2 MPI ranks with one thread
# each. Image configs get Fashion-MNIST as crate shards; language configs
# (objective gpt2 or bert, e.g. configs/gpt2.yaml) get the King James Bible as
# token shards with its SentencePiece tokenizer; gpt2 ends with a sample of
# text, bert with the fortunes probe of its frozen encoder. dino (configs/dino.yaml)
# first draws a contact sheet of its views and ends with the linear and k-NN
# probe of its teacher next to raw pixels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-$root/configs/mae.yaml}
shift || true
ranks=${CRATE_RANKS:-2}
objective=$(sed -n 's/^[[:space:]]\{1,\}name:[[:space:]]*\(gpt2\|bert\).*/\1/p' "$config" | head -1)

"$root/launch/install-deps.sh"
"$root/launch/build.sh" "$root/build"

mpi_flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || mpi_flags+=(--allow-run-as-root)
train() {
  mpirun -np "$ranks" "${mpi_flags[@]}" -x OMP_NUM_THREADS=1 \
    "$root/build/crate-pretrain" "$config" run.dir="$run" dist.threads_per_rank=1 "$@"
}

if [ -n "$objective" ]; then
  data=${CRATE_DATA_DIR:-$root/runs/data/kjv}
  run=${CRATE_RUN_DIR:-$root/runs/$objective-quickstart}
  if ! "$root/build/crate-data" verify "$data/train" >/dev/null 2>&1 ||
     ! "$root/build/crate-data" verify "$data/val" >/dev/null 2>&1; then
    "$root/build/crate-data" kjv "$data"
  fi
  train data.train="$data/train" data.val="$data/val" "$@"
  if [ "$objective" = bert ]; then
    fortunes=${CRATE_FORTUNES_DIR:-$root/runs/data/fortunes}
    [ -d "$fortunes/train" ] || "$root/build/crate-data" fortunes "$fortunes"
    echo
    echo "quickstart: the frozen encoder on the fortunes categories (linear probe, k-NN, bag of words):"
    mpirun -np "$ranks" "${mpi_flags[@]}" -x OMP_NUM_THREADS=1 "$root/build/crate-probe" "$run/ckpt" \
      --text-train "$fortunes/train" --text-test "$fortunes/test" --baseline bow
    echo
    echo "quickstart: done. Outputs:"
    echo "  $run/metrics.jsonl   one JSON object per logged step (loss, tokens/s, val_loss, val_masked_acc, ...)"
    echo "  $run/ckpt/          checkpoints (each holds the tokenizer); ckpt/latest names the final one"
    echo "  $data/{train,val}    the KJV as token shards, every 20th chapter in val"
    echo "  $fortunes/{train,test}  the 10 largest fortunes categories, 80/20"
    exit 0
  fi
  echo
  echo "quickstart: a greedy sample and a sampled one from the final checkpoint:"
  "$root/build/crate-generate" "$run/ckpt" --prompt "And God said" --tokens 60 --temperature 0
  "$root/build/crate-generate" "$run/ckpt" --prompt "And God said" --tokens 60 --temperature 0.8 --top-k 40 --seed 1
  echo
  echo "quickstart: done. Outputs:"
  echo "  $run/metrics.jsonl   one JSON object per logged step (loss, tokens/s, val_loss, val_bpb, ...)"
  echo "  $run/ckpt/          checkpoints (each holds the tokenizer); ckpt/latest names the final one"
  echo "  $data/{train,val}    the KJV as token shards, every 20th chapter in val"
  echo "Sample more with:"
  echo "  $root/build/crate-generate $run/ckpt --prompt \"In the beginning\" --tokens 200"
  exit 0
fi

data=${CRATE_DATA_DIR:-$root/runs/data/fashion-mnist}
image_objective=$(sed -n 's/^[[:space:]]\{1,\}name:[[:space:]]*\(mae\|dino\).*/\1/p' "$config" | head -1)
image_objective=${image_objective:-mae}
run=${CRATE_RUN_DIR:-$root/runs/$image_objective-quickstart}
if [ ! -d "$data/train" ] || ! "$root/build/crate-data" verify "$data/train" >/dev/null 2>&1; then
  "$root/build/crate-data" fashion-mnist "$data"
fi
if [ "$image_objective" = dino ]; then
  mkdir -p "$run"
  echo "quickstart: the views the student and teacher see, for 8 training images:"
  "$root/build/crate-views" "$config" data.train="$data/train" "$@" --images 8 --out "$run/views.png"
fi
train data.train="$data/train" data.test="$data/test" "$@"

probe_flags=(--feature mean --layers 4)
if [ "$image_objective" = dino ]; then
  echo
  echo "quickstart: the frozen teacher on all of Fashion-MNIST (linear probe, k-NN, raw pixels):"
  mpirun -np "$ranks" "${mpi_flags[@]}" -x OMP_NUM_THREADS=1 "$root/build/crate-probe" "$run/ckpt" \
    --train "$data/train" --test "$data/test" "${probe_flags[@]}" --baseline raw
fi
echo
echo "quickstart: done. Outputs:"
echo "  $run/metrics.jsonl   one JSON object per logged step (loss, lr, grad_norm, samples_per_s, ...)"
echo "  $run/ckpt/          checkpoints; ckpt/latest names the final one"
[ "$image_objective" != dino ] || echo "  $run/views.png      the views of 8 images (crate-views)"
echo "  $data/{train,test}   Fashion-MNIST as crate shards"
echo "Evaluate the encoder with:"
echo "  $root/build/crate-probe $run/ckpt --train $data/train --test $data/test ${probe_flags[*]} --baseline raw"
