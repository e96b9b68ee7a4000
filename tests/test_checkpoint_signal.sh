# test_checkpoint_signal.sh BUILD_DIR — preemption by signal:
#  - SIGUSR1 to mpirun at a random step of a 2-rank run (mpirun forwards it to
#    every rank), a second SIGUSR1 while the checkpoint is being written: the
#    ranks agree, save once, exit 75 ("requeue me"); the resumed run ends with
#    losses bitwise equal to an uninterrupted run;
#  - SIGTERM (what `scontrol requeue` sends) and SIGINT (Ctrl-C) to a
#    single-process run: the same, exit 75 and an exact resume. The runs are
#    long (300 steps) against the signal's earliest step (5-44) so the signal
#    always lands while they train.
set -u
. "$(dirname "$0")/lib.sh" "$1"
steps=300

# start NAME RANKS [overrides...]: launches in the background; $! is the launcher
start() {
  local name=$1 ranks=$2
  shift 2
  local cmd=("$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/$name"
    schedule.steps=$steps log.every=1 dist.threads_per_rank=1 "$@")
  if [ "$ranks" = direct ]; then
    OMP_NUM_THREADS=1 "${cmd[@]}" >>"$tmp/$name.txt" 2>&1 &
  else
    mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 -x CRATE_FAULT_PAUSE_BEFORE_COMMIT "${cmd[@]}" \
      >>"$tmp/$name.txt" 2>&1 &
  fi
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
logged() { [ -f "$tmp/$1/metrics.jsonl" ] && wc -l <"$tmp/$1/metrics.jsonl" || echo 0; }
# wait_for_step NAME K: until the run has logged K steps
wait_for_step() { for _ in $(seq 1200); do [ "$(logged "$1")" -ge "$2" ] && return; sleep 0.05; done; }
export CRATE_FAULT_PAUSE_BEFORE_COMMIT=0

start straight 2; wait $!
check "uninterrupted 2-rank run exits 0" [ $? -eq 0 ]
k=$((RANDOM % 40 + 5))
CRATE_FAULT_PAUSE_BEFORE_COMMIT=2 start usr1 2
launcher=$!
wait_for_step usr1 "$k"
kill -USR1 "$launcher"
for _ in $(seq 200); do ls "$tmp"/usr1/ckpt/*.tmp/shard-* >/dev/null 2>&1 && break; sleep 0.05; done
kill -USR1 "$launcher" # a second signal while the shards are written and the manifest is not
wait "$launcher"
status=$?
saved=$(cat "$tmp/usr1/ckpt/latest" 2>/dev/null)
echo "SIGUSR1 sent after step $k was logged: exit $status, checkpoint $saved"
check "SIGUSR1: exit status 75" [ "$status" -eq 75 ]
check "SIGUSR1: the checkpoint is at or after step $k and before the end" \
  awk -v s="${saved#step-}" -v k="$k" -v n="$steps" 'BEGIN { s += 0; exit !(s >= k && s < n) }'
check "SIGUSR1: the checkpoint saved during the second signal verifies" "$build/crate-ckpt" verify "$tmp/usr1/ckpt"
start usr1 2; wait $!
check "SIGUSR1: resumed run exits 0" [ $? -eq 0 ]
check "SIGUSR1: resumed from $saved" grep -q "resumed from .*$saved" "$tmp/usr1.txt"
check "SIGUSR1: losses bitwise equal to the uninterrupted run" cmp -s <(losses straight) <(losses usr1)

start straight1 direct; wait $!
for sig in TERM INT; do
  k=$((RANDOM % 40 + 5))
  start "$sig" direct
  pid=$!
  wait_for_step "$sig" "$k"
  kill -"$sig" "$pid"
  wait "$pid"
  status=$?
  echo "SIG$sig after step $k: exit $status, checkpoint $(cat "$tmp/$sig/ckpt/latest" 2>/dev/null)"
  check "SIG$sig: exit status 75" [ "$status" -eq 75 ]
  start "$sig" direct; wait $!
  check "SIG$sig: resumed run exits 0" [ $? -eq 0 ]
  check "SIG$sig: losses bitwise equal to the uninterrupted run" cmp -s <(losses straight1) <(losses "$sig")
done
finish
