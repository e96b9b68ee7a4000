#!/usr/bin/env bash
# quickstart.sh [CONFIG] [section.key=value ...] — from a fresh Debian machine
# to a training CRATE masked autoencoder: installs the packages, builds,
# converts Fashion-MNIST to crate's shards and trains CONFIG (default
# configs/mae.yaml) on 2 MPI ranks with one thread each.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-$root/configs/mae.yaml}
shift || true
data=${CRATE_DATA_DIR:-$root/runs/data/fashion-mnist}
run=${CRATE_RUN_DIR:-$root/runs/mae-quickstart}
ranks=${CRATE_RANKS:-2}

"$root/launch/install-deps.sh"
"$root/launch/build.sh" "$root/build"

if [ ! -d "$data/train" ] || ! "$root/build/crate-data" verify "$data/train" >/dev/null 2>&1; then
  "$root/build/crate-data" fashion-mnist "$data"
fi

mpi_flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || mpi_flags+=(--allow-run-as-root)
mpirun -np "$ranks" "${mpi_flags[@]}" -x OMP_NUM_THREADS=1 \
  "$root/build/crate-pretrain" "$config" \
  data.train="$data/train" data.test="$data/test" run.dir="$run" dist.threads_per_rank=1 "$@"

echo
echo "quickstart: done. Outputs:"
echo "  $run/metrics.jsonl   one JSON object per logged step (loss, lr, grad_norm, samples_per_s, ...)"
echo "  $run/ckpt/          checkpoints; ckpt/latest names the final one"
echo "  $data/{train,test}   Fashion-MNIST as crate shards"
echo "Evaluate the encoder with:"
echo "  $root/build/crate-probe $run/ckpt --train $data/train --test $data/test --feature mean --layers 4 --baseline raw"
