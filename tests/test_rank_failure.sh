# test_rank_failure.sh BUILD_DIR — failures on one rank end the whole job:
# ranks started with different configs are stopped at start (exit 2, one
# message); a damaged shard block met in the middle of a 2-rank run ends the
# job within seconds (MPI_Abort) with a message naming the rank, the file and
# the block. No rank is left waiting in a collective.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# Flip one byte inside a compressed block of the second shard file.
shard="$tmp/D/train/shard-00001.crs"
byte=$(dd if="$shard" bs=1 skip=200000 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" | dd of="$shard" bs=1 seek=200000 conv=notrunc 2>/dev/null

start=$(date +%s)
timeout 120 mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/mae-tiny.yaml \
  data.train="$tmp/D/train" run.dir="$tmp/R" schedule.steps=400 >"$tmp/out.txt" 2>"$tmp/err.txt"
status=$?
elapsed=$(( $(date +%s) - start ))
grep "crate-pretrain: rank" "$tmp/err.txt" | head -2
echo "exit status $status after ${elapsed}s"
check "the job fails (status $status)" [ $status -ne 0 ] && [ $status -ne 124 ]
check "the message names a rank" grep -q "crate-pretrain: rank [01]:" "$tmp/err.txt"
check "the message names the file and block" grep -q "shard-00001.crs.*block" "$tmp/err.txt"
check "it ends within 60 s" [ $elapsed -lt 60 ]
# Two ranks whose resolved configs differ (MPMD launch with other overrides).
timeout 120 mpirun "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 \
  -np 1 "$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/M" model.depth=2 : \
  -np 1 "$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/M" model.depth=3 \
  >"$tmp/mismatch.out" 2>"$tmp/mismatch.err"
status=$?
grep "crate-pretrain" "$tmp/mismatch.err"
check "config mismatch exits 2 (got $status)" [ $status -eq 2 ]
check "config mismatch is named" grep -q "resolved config differs between ranks" "$tmp/mismatch.err"
check "no training happened" [ ! -e "$tmp/M/metrics.jsonl" ]
finish
