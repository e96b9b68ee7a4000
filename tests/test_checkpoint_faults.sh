# test_checkpoint_faults.sh BUILD_DIR — whatever breaks, the last good
# checkpoint survives and the run resumes from it, saying what it skipped:
#  1. a rank SIGKILLed in the middle of a save (shards written, manifest not);
#  2. a flipped byte in a shard of the newest checkpoint;
#  3. a truncated manifest;
#  4. a full disk during a save (a 256 KiB tmpfs this test mounts).
# Each resumed run then logs the same losses as an uninterrupted one (2 ranks,
# bitwise), and no committed checkpoint is deleted or overwritten.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# train NAME [overrides...]: 2 ranks, 40 steps, its output appended to $tmp/NAME.txt
train() {
  local name=$1
  shift
  mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 -x CRATE_FAULT_PAUSE_BEFORE_COMMIT \
    "$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/$name" \
    schedule.steps=40 log.every=1 dist.threads_per_rank=1 "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
same_losses() { cmp -s <(losses straight) <(losses "$1"); }
# what the run said about its checkpoints, for the log
said() { grep -h "skipping\|ignoring\|resumed\|moved\|failed" "$@" | sed 's/^/    /'; }
verifies() { "$build/crate-ckpt" verify "$1" >/dev/null; }
export CRATE_FAULT_PAUSE_BEFORE_COMMIT=0

train straight
check "uninterrupted run exits 0" [ $? -eq 0 ]

# 1. SIGKILL during a save.
train killed run.stop_after=10
CRATE_FAULT_PAUSE_BEFORE_COMMIT=60 train killed checkpoint.every=10 &
launcher=$!
for _ in $(seq 600); do [ -f "$tmp/killed/ckpt/step-000020.tmp/shard-00001-of-00002.lz4" ] && break; sleep 0.1; done
sleep 0.5
victim=$(pgrep -f "crate-pretrain configs/mae-tiny.yaml data.train=$tmp/D/train run.dir=$tmp/killed" | tail -1)
kill -KILL "$victim"
wait "$launcher"
check "killed save: the job ended with a failure" [ $? -ne 0 ]
check "killed save: step-000020 was never committed" [ ! -e "$tmp/killed/ckpt/step-000020" ]
check "killed save: latest still names step-000010" [ "$(cat "$tmp/killed/ckpt/latest")" = step-000010 ]
check "killed save: step-000010 verifies" verifies "$tmp/killed/ckpt/step-000010"
train killed checkpoint.every=10
check "killed save: resume exits 0" [ $? -eq 0 ]
check "killed save: the stale save is named" grep -q "ignoring .*step-000020.tmp: a save that never committed" "$tmp/killed.txt"
check "killed save: resumed from step 10" grep -q "resumed from .*step-000010" "$tmp/killed.txt"
check "killed save: losses equal the uninterrupted run" same_losses killed
check "killed save: the stale folder is gone after the next save" [ ! -e "$tmp/killed/ckpt/step-000020.tmp" ]
echo "1. killed during a save:"; said "$tmp/killed.txt"

# 2. A flipped byte in a shard of the newest checkpoint (step 40; 30 is kept).
cp -r "$tmp/killed" "$tmp/flipped"
: >"$tmp/flipped.txt"
shard="$tmp/flipped/ckpt/step-000040/shard-00001-of-00002.lz4"
byte=$(od -An -tu1 -j 5000 -N1 "$shard")
printf "\\$(printf %03o $(((byte + 1) % 256)))" | dd of="$shard" bs=1 seek=5000 conv=notrunc status=none
train flipped checkpoint.every=10
check "flipped byte: resume exits 0" [ $? -eq 0 ]
check "flipped byte: says which file is damaged and why" \
  grep -q "skipping checkpoint .*step-000040: rank 1: .*shard-00001-of-00002.lz4.* damaged" "$tmp/flipped.txt"
check "flipped byte: the damaged checkpoint is kept aside" [ -f "$tmp/flipped/ckpt/step-000040.damaged/manifest.yaml" ]
check "flipped byte: resumed from step 30" grep -q "resumed from .*step-000030" "$tmp/flipped.txt"
check "flipped byte: losses equal the uninterrupted run" same_losses flipped
check "flipped byte: a new step-000040 verifies" verifies "$tmp/flipped/ckpt/step-000040"
echo "2. flipped byte:"; said "$tmp/flipped.txt"

# 3. A truncated manifest.
cp -r "$tmp/killed" "$tmp/truncated"
: >"$tmp/truncated.txt"
manifest="$tmp/truncated/ckpt/step-000040/manifest.yaml"
truncate -s $(($(stat -c %s "$manifest") / 2)) "$manifest"
train truncated checkpoint.every=10
check "truncated manifest: resume exits 0" [ $? -eq 0 ]
check "truncated manifest: says why it skipped step-000040" \
  grep -q "skipping checkpoint .*step-000040: .*manifest.yaml" "$tmp/truncated.txt"
check "truncated manifest: resumed from step 30" grep -q "resumed from .*step-000030" "$tmp/truncated.txt"
check "truncated manifest: losses equal the uninterrupted run" same_losses truncated
echo "3. truncated manifest:"; said "$tmp/truncated.txt"

# 4. A full disk during a save: the run stops with the reason; nothing committed is lost.
train full run.stop_after=20
mkdir -p "$tmp/disk"
if mount -t tmpfs -o size=256k tmpfs "$tmp/disk"; then
  trap 'umount "$tmp/disk" 2>/dev/null; rm -rf "$tmp"' EXIT
  cp -r "$tmp/full" "$tmp/disk/full"
  pretrain_tiny 2 "$tmp/disk/full" schedule.steps=40 log.every=1 dist.threads_per_rank=1 >"$tmp/disk.txt" 2>&1
  status=$?
  check "full disk: the run fails (exit $status)" [ "$status" -ne 0 ]
  check "full disk: the message names the cause" grep -q "checkpoint at step 40 failed: .*No space left on device" "$tmp/disk.txt"
  check "full disk: step-000020 still verifies" verifies "$tmp/disk/full/ckpt/step-000020"
  check "full disk: latest still names step-000020" [ "$(cat "$tmp/disk/full/ckpt/latest")" = step-000020 ]
  check "full disk: no half-written folder left" [ ! -e "$tmp/disk/full/ckpt/step-000040.tmp" ]
  rm -rf "$tmp/full"
  cp -r "$tmp/disk/full" "$tmp/full"
  umount "$tmp/disk"
  train full
  check "full disk: resumed from step 20 on a roomy disk" grep -q "resumed from .*step-000020" "$tmp/full.txt"
  check "full disk: losses equal the uninterrupted run" same_losses full
  echo "4. full disk:"; said "$tmp/disk.txt" "$tmp/full.txt"
else
  check "full disk: this test needs to mount a tmpfs (run as root)" false
fi
finish
