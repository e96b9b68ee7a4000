# test_probe_paths.sh BUILD_DIR — crate-probe with awkward checkpoint paths:
#  - paths of 2000 and 3000 characters (nested folders with 200-character
#    names, the last holding a symlink to the checkpoint folder) are probed,
#    and their JSON lines parse and carry the whole path;
#  - so does a path with double quotes, a backslash and a tab;
#  - a path longer than the checkpoint reader takes exits 2 saying so.
# The JSON line used to be built in a fixed 2 KiB buffer without escaping:
# the long paths wrote past it, the quotes broke the JSON.
set -u
. "$(dirname "$0")/lib.sh" "$1"
py=/usr/bin/python3

pretrain_tiny 1 "$tmp/R" schedule.steps=4 schedule.warmup_steps=2 >"$tmp/train.txt" 2>&1
check "training a 4-step checkpoint exits 0" [ $? -eq 0 ]

# probe CKPT OUT: a small probe (seconds, also under the sanitizers).
probe() {
  OMP_NUM_THREADS=1 "$build/crate-probe" "$1" --train "$tmp/D/train" --test "$tmp/D/test" --train-limit 600 \
    --test-limit 200 --knn 5 --threads 1 --out "$tmp/out.jsonl" >"$2" 2>&1
}
# json_ok OUT CKPT: the last line of OUT, and the last line of --out's file,
# are JSON objects whose "checkpoint" is CKPT.
json_ok() {
  "$py" -c '
import json, sys
for text in (open(sys.argv[1]).read(), open(sys.argv[3]).read()):
    d = json.loads(text.splitlines()[-1])
    assert d["checkpoint"] == sys.argv[2], (len(d["checkpoint"]), len(sys.argv[2]))
    assert 0 <= d["linear_top1"] <= 1 and 0 <= d["knn_top1"] <= 1 and d["step"] == 4, d
' "$1" "$2" "$tmp/out.jsonl"
}

# long_path LENGTH: a new path of LENGTH characters to a symlink to the
# checkpoint folder: nested folders with names of 200 characters or fewer.
long_path() {
  local p=$tmp/long$1
  while [ $((${#p} + 206)) -lt "$1" ]; do p=$p/$(printf 'x%.0s' $(seq 1 199)); done
  p=$p/$(printf 'z%.0s' $(seq 1 $(($1 - ${#p} - 6))))
  mkdir -p "$p" && ln -s "$tmp/R/ckpt" "$p/ckpt" && echo "$p/ckpt"
}
# 2000 characters ran the old 2 KiB JSON buffer into its redzone (ASan's
# stack-buffer-overflow); 3000 went past it into other memory.
for length in 2000 3000; do
  long=$(long_path $length)
  check "a path of $length characters" [ ${#long} -eq $length ]
  probe "$long" "$tmp/long.txt"
  rc=$?
  check "probe of the $length-character path exits 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || tail -c 2000 "$tmp/long.txt"
  check "... its JSON line parses and names the whole path" json_ok "$tmp/long.txt" "$long"
done

odd=$tmp/$'say "hi" \\ back\\slash\ttab'
mkdir -p "$odd" && ln -s "$tmp/R/ckpt" "$odd/ckpt"
odd=$odd/ckpt
probe "$odd" "$tmp/odd.txt"
rc=$?
check "probe of a path with quotes, a backslash and a tab exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -c 2000 "$tmp/odd.txt"
check "... its JSON line parses and names the path" json_ok "$tmp/odd.txt" "$odd"
tail -1 "$tmp/odd.txt"

toolong=$tmp/$(printf 'y%.0s' $(seq 1 4090))
probe "$toolong" "$tmp/toolong.txt"
check "a checkpoint path beyond the reader's limit exits 2" [ $? -eq 2 ]
check "... saying how long it may be" grep -q "checkpoint path of 4[0-9]* characters is longer than" "$tmp/toolong.txt"
finish
