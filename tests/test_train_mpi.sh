# test_train_mpi.sh BUILD_DIR — the same mae-tiny run on 1 and 2 ranks (one
# thread each, same global batch) logs the same loss at every step, to 1e-4
# relative: ranks split the global batch, never the samples' random choices.
set -u
. "$(dirname "$0")/lib.sh" "$1"

for ranks in 1 2; do
  mpirun -np $ranks "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/mae-tiny.yaml \
    data.train="$tmp/D/train" run.dir="$tmp/R$ranks" schedule.steps=20 >"$tmp/out$ranks.txt" 2>&1
  check "$ranks rank(s): exit 0" [ $? -eq 0 ]
  json_field "$tmp/R$ranks/metrics.jsonl" loss >"$tmp/loss$ranks.txt"
done
worst=$(paste "$tmp/loss1.txt" "$tmp/loss2.txt" | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }')
echo "largest relative loss difference over 20 steps, 1 vs 2 ranks: $worst"
check "20 losses logged" [ "$(wc -l <"$tmp/loss2.txt")" -eq 20 ]
check "1 and 2 ranks agree to 1e-4" awk -v w="$worst" 'BEGIN { exit !(w < 1e-4) }'
finish
