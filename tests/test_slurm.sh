# test_slurm.sh BUILD_DIR — crate-pretrain under a real one-node Slurm
# (launch/slurm-local.sh, in a scratch state folder, stopped on exit) with
# launch/crate.sbatch, 2 ranks of mae-tiny with one thread each:
#   1. preemption: `scancel --signal=USR1 --batch` in the middle of training;
#      the trainer checkpoints and exits 75, the batch script requeues the
#      job, the restart (SLURM_RESTART_COUNT=1) resumes and completes;
#   2. time limit: --time=1 with a warning signal (--signal=B:USR1@50) and
#      more than a minute of training; the job requeues itself after each
#      warning until it completes, never reaching TIMEOUT.
# Both must log, step for step, the very losses (same JSON text) of the same
# training run uninterrupted with mpirun. The step count is calibrated to
# about CRATE_SLURM_TEST_SECONDS (default 65) of training so that case 2
# cannot finish inside its minute; CRATE_SLURM_TEST_STEPS fixes it instead.
# CRATE_BIN replaces the trainer (to try the harness with a stand-in).
# Needs root (the daemons run as root) and installs munge and Slurm from
# Debian if they are missing.
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
build=$(cd "$build" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CRATE_BIN:-$build/crate-pretrain}
state=$tmp/slurm
t_start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "test_slurm: skipped: the local Slurm runs its daemons as root"
  finish
  exit
fi

# cleanup: on every exit, stop the daemons this test started, then remove
# the scratch folder (lib.sh's own EXIT trap is replaced by this one).
cleanup() {
  "$root/launch/slurm-local.sh" stop "$state" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# job_field JOB FIELD: FIELD of `scontrol show job` (JobState, Restarts, ...).
job_field() {
  scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# wait_job_end JOB SECONDS: polls until JOB reaches a final state (not just
# the end of one run: a requeued job goes back to PENDING) and prints it.
wait_job_end() {
  local job=$1 deadline=$((SECONDS + $2)) state=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(job_field "$job" JobState)
    case $state in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "$state"
        return 0
        ;;
    esac
    sleep 1
  done
  echo "STILL-${state:-UNKNOWN}-after-$2s"
}

# train_args RUN_DIR: the one training run of this test (2 ranks, no
# periodic checkpoint, every step logged).
train_args() {
  # mae-tiny widened until a step is compute (about 20 ms), not MPI latency,
  # which varies with how busy the machine is and with mpirun's idle policy.
  echo configs/mae-tiny.yaml model.dim=128 model.heads=4 model.depth=4 data.train="$tmp/D/train" run.dir="$1" \
    schedule.steps="$steps" checkpoint.every=$((steps * 10)) log.every=1 dist.threads_per_rank=1
}

# direct_run RUN_DIR: the training run with mpirun, no Slurm; output in RUN_DIR.txt.
direct_run() {
  local dir=$1
  # Unbound, like the ranks of the jobs.
  # shellcheck disable=SC2046 # train_args is a word list without spaces
  mpirun -np 2 "${mpirun_flags[@]}" --bind-to none -x OMP_NUM_THREADS=1 "$bin" $(train_args "$dir") >"$dir.txt" 2>&1
}

# same_losses NAME: every step's loss text in NAME's metrics equals the
# uninterrupted run's, and there is exactly one line per step.
same_losses() {
  local name=$1 diffs
  json_field "$tmp/$name/metrics.jsonl" step >"$tmp/$name.steps"
  json_field "$tmp/$name/metrics.jsonl" loss >"$tmp/$name.loss"
  check "$name: one metrics line per step 1..$steps" cmp -s "$tmp/$name.steps" "$tmp/ref.steps"
  diffs=$(paste -d' ' "$tmp/$name.loss" "$tmp/ref.loss" | awk '$1 != $2' | wc -l)
  echo "$name: final loss $(tail -1 "$tmp/$name.loss") (uninterrupted: $(tail -1 "$tmp/ref.loss")), $diffs step(s) differ"
  check "$name: final loss equals the uninterrupted run's, bitwise" \
    [ "$(tail -1 "$tmp/$name.loss")" = "$(tail -1 "$tmp/ref.loss")" ]
  check "$name: every step's loss equals the uninterrupted run's" [ "$diffs" -eq 0 ]
}

# show_log NAME: the batch script's own lines, for the reader of the test,
# and the end of the whole log when something went wrong.
show_log() {
  grep -E "^crate.sbatch:|slurmstepd" "$tmp/$1.log" | sed "s/^/  [$1] /"
  if ! tail -1 "$tmp/$1.log" | grep -q "trainer finished (exit 0)"; then
    echo "  [$1] --- the log ends with:"
    tail -25 "$tmp/$1.log" | sed "s/^/  [$1] /"
  fi
}

# logged_steps NAME: lines in NAME's metrics so far (0 before the first).
logged_steps() {
  if [ -e "$tmp/$1/metrics.jsonl" ]; then wc -l <"$tmp/$1/metrics.jsonl"; else echo 0; fi
}

# submit NAME [sbatch options...]: submits crate.sbatch for run NAME, with a
# log of its own (job IDs restart at 1 in a fresh state folder), prints the ID.
submit() {
  local name=$1
  shift
  # shellcheck disable=SC2046
  # Both launches leave the ranks unbound, so the calibrated step count lasts
  # as long in a job as in the reference run, whatever else holds the cores.
  CRATE_BIN=$bin CRATE_MPIRUN_FLAGS="--bind-to none" OMP_NUM_THREADS=1 sbatch --parsable -J "crate-$name" -n 2 -o "$tmp/$name.log" "$@" \
    "$root/launch/crate.sbatch" $(train_args "$tmp/$name")
}

# --- the cluster ---
t0=$SECONDS
env_line=$("$root/launch/slurm-local.sh" start "$state") || { echo "test_slurm: the local Slurm did not start" >&2; exit 1; }
eval "$env_line"
echo "cluster up in $((SECONDS - t0)) s"
check "SLURM_CONF points into the scratch state folder" [ "${SLURM_CONF:-}" = "$state/slurm.conf" ]

# --- the step count, then the uninterrupted reference run ---
if [ -n "${CRATE_SLURM_TEST_STEPS:-}" ]; then
  steps=$CRATE_SLURM_TEST_STEPS
else
  # The steady rate, from elapsed_s between steps 100 and 300: it leaves
  # out MPI's start-up and the slower first steps.
  steps=300
  direct_run "$tmp/calib"
  steps=$(awk -F'"elapsed_s":' -v t="${CRATE_SLURM_TEST_SECONDS:-65}" '
    /"step":100,/ { a = $2 + 0 } /"step":300,/ { b = $2 + 0 }
    END { n = (b > a) ? int(t * 200 / (b - a) / 100) * 100 : 0; print (n < 300 ? 300 : n) }' "$tmp/calib/metrics.jsonl")
fi
t0=$SECONDS
direct_run "$tmp/ref"
status=$?
ref_s=$((SECONDS - t0))
echo "uninterrupted run: $steps steps in $ref_s s, exit $status"
check "uninterrupted run exits 0" [ $status -eq 0 ]
json_field "$tmp/ref/metrics.jsonl" step >"$tmp/ref.steps"
json_field "$tmp/ref/metrics.jsonl" loss >"$tmp/ref.loss"
check "uninterrupted run logs $steps steps" [ "$(wc -l <"$tmp/ref.loss")" -eq "$steps" ]
if [ $status -ne 0 ]; then
  tail -5 "$tmp/ref.txt"
  finish
  exit
fi

# --- case 1: preempted by a signal to the batch shell ---
t0=$SECONDS
job=$(submit preempt)
echo "preempt: job $job submitted"
# Signal once a tenth of the steps are logged: the job is well under way.
deadline=$((SECONDS + 60 + ref_s))
while [ $SECONDS -lt $deadline ] && [ "$(logged_steps preempt)" -lt $((steps / 10)) ]; do
  sleep 0.5
done
echo "preempt: $(logged_steps preempt) steps logged, state $(job_field "$job" JobState): scancel --signal=USR1 --batch $job"
scancel --signal=USR1 --batch "$job"
end=$(wait_job_end "$job" $((3 * ref_s + 120)))
restarts=$(job_field "$job" Restarts)
echo "preempt: job $job $end after $((SECONDS - t0)) s, $restarts restart(s)"
show_log preempt
check "preempt: job COMPLETED (got $end)" [ "$end" = COMPLETED ]
check "preempt: requeued exactly once (Restarts=$restarts)" [ "$restarts" = 1 ]
check "preempt: the batch shell forwarded SIGUSR1" grep -q "forwarding SIGUSR1 to" "$tmp/preempt.log"
check "preempt: trainer exited 75 and the job requeued itself" grep -q "trainer exited 75: requeueing" "$tmp/preempt.log"
check "preempt: the restart saw SLURM_RESTART_COUNT=1" grep -q "restart 1 of job $job" "$tmp/preempt.log"
check "preempt: a checkpoint is named by ckpt/latest" [ -s "$tmp/preempt/ckpt/latest" ]
same_losses preempt

# --- case 2: a one-minute time limit with a warning signal ---
t0=$SECONDS
job=$(submit timelimit --time=1 --signal=B:USR1@50)
echo "timelimit: job $job submitted (--time=1 --signal=B:USR1@50)"
end=$(wait_job_end "$job" $((6 * ref_s + 300)))
restarts=$(job_field "$job" Restarts)
echo "timelimit: job $job $end after $((SECONDS - t0)) s, $restarts restart(s)"
show_log timelimit
check "timelimit: job COMPLETED, not TIMEOUT (got $end)" [ "$end" = COMPLETED ]
check "timelimit: requeued at least once (Restarts=$restarts)" [ "${restarts:-0}" -ge 1 ]
check "timelimit: the warning signal reached the batch shell" grep -q "received SIGUSR1" "$tmp/timelimit.log"
check "timelimit: the job requeued itself" grep -q "trainer exited 75: requeueing" "$tmp/timelimit.log"
check "timelimit: never killed at the limit" bash -c "! grep -q 'DUE TO TIME LIMIT' '$tmp/timelimit.log'"
same_losses timelimit

echo "test_slurm: $((SECONDS - t_start)) s in all"
finish
