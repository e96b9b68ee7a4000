# test_run_folder.sh BUILD_DIR — the run folder under careless or hostile use
# (the "bad input" issue; its numbers in brackets):
#  [5]  the config missing on one rank only (rank 1, then rank 0): every rank
#       exits 2 with the message, no deadlock;
#  [6]  a fresh start (checkpoint.resume=none) into a used run.dir, and a
#       resume of an older step folder than the newest: refused, nothing of
#       the old run deleted or replaced;
#  [7]  the atomic writer: a planted X.tmp symlink is not followed, a device
#       node, a folder or a symlink at the target is not replaced;
#  [8]  two trainers on one run.dir: the second fails naming the first;
#  [13] SIGINT during start-up ends the run before its first step (75), a
#       second SIGINT during a save stops at once, and the committed
#       checkpoint is intact;
#  [14] writing `latest` fails after a commit: the checkpoint is still what
#       the tools and the next resume find.
set -u
. "$(dirname "$0")/lib.sh" "$1"
pretrain=("$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" schedule.warmup_steps=1
  log.every=1 dist.threads_per_rank=1)

# [5] MPMD: the same program with a config that exists on one rank only.
for missing in 1 0; do
  good=(configs/mae-tiny.yaml) bad=("$tmp/nowhere.yaml")
  if [ $missing = 1 ]; then first=("${good[@]}") second=("${bad[@]}"); else first=("${bad[@]}") second=("${good[@]}"); fi
  args=(data.train="$tmp/D/train" run.dir="$tmp/r5" schedule.steps=2 schedule.warmup_steps=1)
  expect_2 "[5] the config missing on rank $missing of 2" "rank $missing: cannot read config" \
    mpirun -np 1 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" "${first[@]}" "${args[@]}" : \
    -np 1 "$build/crate-pretrain" "${second[@]}" "${args[@]}"
done

# [6]
"${pretrain[@]}" run.dir="$tmp/used" schedule.steps=6 checkpoint.every=2 >/dev/null 2>&1
check "[6] a first run with checkpoints 4 and 6" test -d "$tmp/used/ckpt/step-000004" -a -d "$tmp/used/ckpt/step-000006"
before=$(md5sum <"$tmp/used/ckpt/step-000006/manifest.yaml")
expect_2 "[6] a fresh start into the used run.dir" "already holds checkpoints of an earlier run" \
  "${pretrain[@]}" run.dir="$tmp/used" schedule.steps=6 checkpoint.every=2 checkpoint.resume=none
expect_2 "[6] resuming step 4 where step 6 exists" "beyond step 4 this run resumes from" \
  "${pretrain[@]}" run.dir="$tmp/used" schedule.steps=6 checkpoint.every=2 \
  checkpoint.resume="$tmp/used/ckpt/step-000004"
check "[6] ... the old run's newest checkpoint is untouched" \
  [ "$(md5sum <"$tmp/used/ckpt/step-000006/manifest.yaml")" = "$before" ]
check "[6] ... and still verifies" "$build/crate-ckpt" verify "$tmp/used/ckpt/step-000006"

# [7] Every tool's output goes through one atomic writer (src/io/fs.h); here
# crate-probe's safetensors export.
echo "the victim" >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/out.bin.tmp"
"$build/crate-probe" "$tmp/used/ckpt" --export-safetensors "$tmp/out.bin" >"$tmp/out.txt" 2>&1
check "[7] a planted OUT.tmp symlink: the export succeeds" [ $? -eq 0 ]
check "[7] ... without writing through the link" [ "$(cat "$tmp/victim")" = "the victim" ]
check "[7] ... and OUT is a regular file" test -f "$tmp/out.bin" -a ! -L "$tmp/out.bin"
ln -s "$tmp/victim" "$tmp/link.safetensors"
expect_2 "[7] a symlink at the target" "it is a symbolic link, not a regular file" \
  "$build/crate-probe" "$tmp/used/ckpt" --export-safetensors "$tmp/link.safetensors"
check "[7] ... the link and its target are untouched" test -L "$tmp/link.safetensors" -a "$(cat "$tmp/victim")" = "the victim"
mkdir "$tmp/dir.safetensors"
expect_2 "[7] a folder at the target" "it is a folder, not a regular file" \
  "$build/crate-probe" "$tmp/used/ckpt" --export-safetensors "$tmp/dir.safetensors"
if mknod "$tmp/dev.safetensors" c 1 3 2>/dev/null; then
  expect_2 "[7] a device node at the target" "it is a device, not a regular file" \
    "$build/crate-probe" "$tmp/used/ckpt" --export-safetensors "$tmp/dev.safetensors"
  check "[7] ... still a device" [ -c "$tmp/dev.safetensors" ]
else
  echo "(mknod not permitted here: the device-node case is skipped)"
fi

# [8]
"${pretrain[@]}" run.dir="$tmp/busy" schedule.steps=100000 >"$tmp/busy.txt" 2>&1 &
holder=$!
for _ in $(seq 600); do [ -s "$tmp/busy/metrics.jsonl" ] && break; sleep 0.05; done
expect_2 "[8] a second trainer on a run.dir in use" "is in use by crate-pretrain pid $holder" \
  "${pretrain[@]}" run.dir="$tmp/busy" schedule.steps=100000
check "[8] ... the first one still trains" kill -0 $holder

# [13] the first trainer: SIGINT once (a checkpoint at the next step), then a
# fresh one with a slow save and SIGINT twice.
kill -INT $holder
wait $holder
check "[13] SIGINT while training: exit 75" [ $? -eq 75 ]
check "[13] ... said how to stop at once" grep -q "Ctrl-C again stops at once" "$tmp/busy.txt"
saved=$(ls "$tmp/busy/ckpt" | grep -c '^step-[0-9]*$')
check "[13] ... one checkpoint committed" [ "$saved" -eq 1 ]
CRATE_FAULT_PAUSE_BEFORE_COMMIT=30 "${pretrain[@]}" run.dir="$tmp/busy" schedule.steps=100000 >"$tmp/twice.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q "^step " "$tmp/twice.txt" && break; sleep 0.05; done
kill -INT $pid
for _ in $(seq 600); do ls "$tmp"/busy/ckpt/*.tmp >/dev/null 2>&1 && break; sleep 0.05; done
start=$SECONDS
kill -INT $pid
wait $pid
status=$?
check "[13] a second SIGINT during the save stops at once (exit $status, $((SECONDS - start)) s)" \
  test $status -eq 130 -a $((SECONDS - start)) -lt 10
check "[13] ... the committed checkpoint verifies" "$build/crate-ckpt" verify "$tmp/busy/ckpt"
"${pretrain[@]}" run.dir="$tmp/early" schedule.steps=100 >"$tmp/early.txt" 2>&1 &
pid=$!
sleep 0.1
kill -INT $pid
wait $pid
status=$?
if grep -q "^step " "$tmp/early.txt"; then
  echo "(SIGINT came after the first step: the start-up case is not exercised this time)"
else
  check "[13] SIGINT during start-up: exit 75 (got $status)" [ $status -eq 75 ]
  check "[13] ... said it stopped while starting" grep -q "stopped by a signal while starting" "$tmp/early.txt"
fi

# [14] `latest` cannot be written (its temporary is a folder): the commit
# stands, and the tools and the next run find the newest step without it.
mkdir -p "$tmp/nolatest/ckpt/latest.tmp"
"${pretrain[@]}" run.dir="$tmp/nolatest" schedule.steps=4 checkpoint.every=2 >"$tmp/nolatest.txt" 2>&1
check "[14] the run exits 0 with latest unwritable" [ $? -eq 0 ]
check "[14] ... says the checkpoint is committed" grep -q "step-000004 is committed, but" "$tmp/nolatest.txt"
check "[14] ... crate-ckpt finds step 4" bash -c "'$build/crate-ckpt' verify '$tmp/nolatest/ckpt' | grep -q 'step 4,'"
"${pretrain[@]}" run.dir="$tmp/nolatest" schedule.steps=6 checkpoint.every=2 >"$tmp/nolatest2.txt" 2>&1
check "[14] ... and the next run resumes from it" grep -q "resumed from .*step-000004" "$tmp/nolatest2.txt"
finish
