#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages crate builds, tests and trains
# with. Non-interactive and idempotent: packages already present are not asked
# for again, so a second run needs no network at all.
set -euo pipefail

packages=(
  build-essential cmake pkg-config gzip
  libopenmpi-dev openmpi-bin        # MPI ranks
  libopenblas-openmp-dev            # sgemm; the OpenMP build shares our thread pool
  libdnnl-dev                       # oneDNN: the faster GEMM backend and bf16 (src/kernels/gemm.h)
  liblz4-dev libyaml-dev            # shards and checkpoints; configs
  libsentencepiece-dev              # the tokenizer (data/spm.h)
  libpng-dev                        # PNG files: crate-views' contact sheets (src/io/png.h)
  libcairo2-dev                     # plots: crate-analyze's layer curves (src/io/plot.h)
  dataset-fashion-mnist             # the image data (DESIGN §11)
  bible-kjv                         # the text data: `bible` prints the KJV (crate-data kjv)
  fortunes                          # labelled short texts for the text probe (crate-data fortunes)
  python3-numpy python3-yaml lz4    # tests: independent readers of .npy, safetensors and checkpoints
  python3-torch                     # tests: PyTorch CRATE models load the official-name exports
  sentencepiece                     # tests: spm_encode as an independent tokenizer
  munge slurm-wlm slurmctld slurmd slurm-client  # tests: a real one-node Slurm (launch/slurm-local.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq -o DPkg::Lock::Timeout=600
$sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
echo "install-deps: done"
