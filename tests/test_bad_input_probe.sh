# test_bad_input_probe.sh BUILD_DIR — regression tests for the probe's part
# of the "bad input" issue (its numbers in brackets). Each bad case exits 2
# with a message naming the folder, option, record or value and the fix,
# before the heavy work, and nothing crashes (the sanitizer build runs this):
#  [4]  test images of another shape than the train set and the encoder, larger
#       (32x32: silent garbage) and smaller (14x14: an out-of-bounds read), for
#       crate-probe (also with --baseline raw) and for the trainer's k-NN
#       monitor (data.test of eval.every);
#  [9]  crate-probe --out in a missing folder, --out a folder, --out /dev/full
#       (fails at the write), --save-features under a regular file,
#       --export-safetensors in a missing folder, each before any probing;
#  [11] labels outside [0, 65535]: 1e9, INT_MAX and -1 in a train set, a test
#       label the train set does not have, a bad label in the k-NN monitor's
#       memory bank (refused when training starts);
#  [14] with 3 classes no top-5 (text and JSON); --knn larger than the train
#       set reports the k used; the k-NN monitor reports the images it used;
#       the text probe reports the k used and no top-5 with 2 classes, and
#       refuses a folder of more than 65536 class files (labels 0..65535).
# Image shards of any shape and labels are made here by a small writer of the
# format in data/shard.h (LZ4 blocks of literals only, which any LZ4 decoder reads).
set -u
. "$(dirname "$0")/lib.sh" "$1"
py=/usr/bin/python3
# no_probe NAME: the last command's output ($tmp/out.txt) shows no probe ran.
no_probe() {
  check "$1: refused before probing" bash -c "! grep -q 'linear probe' '$tmp/out.txt'"
}
# shards DIR C H W N [RECORD=LABEL...]: N images of C x H x W as one image
# shard in DIR; record i has label i % 10 unless given, pixels from the label.
shards() {
  "$py" - "$@" <<'PY'
import os, random, struct, sys, zlib
out, C, H, W, n = sys.argv[1], *map(int, sys.argv[2:6])
labels = [i % 10 for i in range(n)]
for a in sys.argv[6:]:
    i, v = a.split('=')
    labels[int(i)] = int(v)
rng = random.Random(1)
px = C * H * W
rec = px + 4
def lz4_literals(raw):  # one LZ4 sequence of literals only
    k, head = len(raw), bytearray()
    if k < 15:
        head.append(k << 4)
    else:
        head.append(0xF0)
        k -= 15
        while k >= 255:
            head.append(255)
            k -= 255
        head.append(k)
    return bytes(head) + raw
rpb = 256
body, index = bytearray(), bytearray()
for b0 in range(0, n, rpb):
    raw = bytearray()
    for i in range(b0, min(n, b0 + rpb)):
        base = 20 * (labels[i] % 10)
        raw += bytes(min(255, base + rng.randrange(60)) for _ in range(px)) + struct.pack('<i', labels[i])
    comp = lz4_literals(bytes(raw))
    index += struct.pack('<QIIII', 64 + len(body), len(comp), len(raw), zlib.crc32(raw), 0)
    body += comp
blocks = (n + rpb - 1) // rpb
index += struct.pack('<II', zlib.crc32(bytes(index)), 0) + b'CRATEEND'
head = b'CRATESHD' + struct.pack('<IIIIIIQIIQI', 1, 1, rec, C, H, W, n, rpb, blocks, 64 + len(body), 0)
head += struct.pack('<I', zlib.crc32(head))
os.makedirs(out, exist_ok=True)
open(os.path.join(out, 'shard-00000.crs'), 'wb').write(head + body + index)
PY
}
pretrain=("$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train")
"${pretrain[@]}" run.dir="$tmp/good" schedule.steps=2 schedule.warmup_steps=1 >/dev/null 2>&1
check "a checkpoint to probe" [ -f "$tmp/good/ckpt/step-000002/manifest.yaml" ]
ckpt=$tmp/good/ckpt
probe=("$build/crate-probe" "$ckpt" --threads 1)
shards "$tmp/ok" 1 28 28 300
"$build/crate-data" verify "$tmp/ok" >"$tmp/verify.txt" 2>&1
check "the shard writer here writes what crate-data verify accepts" [ $? -eq 0 ]

# [4] the probe
shards "$tmp/big" 1 32 32 200
shards "$tmp/small" 1 14 14 200
expect_2 "[4] 32x32 test images, 28x28 train" "test images are 32x32x1 but the train set and the encoder are 28x28x1" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/big"
check "[4] ... naming the test folder" grep -q "$tmp/big" "$tmp/out.txt"
no_probe "[4] 32x32"
expect_2 "[4] 14x14 test images (read out of bounds before)" "test images are 14x14x1 but" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/small"
expect_2 "[4] ... with --baseline raw" "test images are 32x32x1 but" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/big" --baseline raw --knn 0
expect_2 "[4] ... and with --test-limit" "test images are 14x14x1" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/small" --test-limit 10
shards "$tmp/rgb" 3 28 28 200
expect_2 "[4] 28x28x3 images for an encoder of 28x28x1" "an encoder for 28x28x3 images" \
  "${probe[@]}" --train "$tmp/rgb" --test "$tmp/rgb"

# [4] the k-NN monitor
expect_2 "[4] k-NN monitor: data.test of 32x32 images" "data.test.*test images are 32x32x1 but" \
  "${pretrain[@]}" run.dir="$tmp/m4" data.test="$tmp/big" eval.every=1 schedule.steps=2 schedule.warmup_steps=1
check "[4] ... refused before training (no step logged)" [ ! -s "$tmp/m4/metrics.jsonl" ]
expect_2 "[4] k-NN monitor: data.test of 14x14 images" "test images are 14x14x1 but" \
  "${pretrain[@]}" run.dir="$tmp/m4b" data.test="$tmp/small" eval.every=1 schedule.steps=2 schedule.warmup_steps=1

# [9] output paths, checked before the probe runs
expect_2 "[9] --out in a missing folder" "--out $tmp/nowhere/p.jsonl" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" --out "$tmp/nowhere/p.jsonl"
no_probe "[9] --out in a missing folder"
mkdir "$tmp/adir"
expect_2 "[9] --out a folder" "is a folder" "${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" --out "$tmp/adir"
no_probe "[9] --out a folder"
if [ -w /dev/full ]; then
  expect_2 "[9] --out /dev/full (the write fails)" "/dev/full" \
    "${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" --knn 0 --out /dev/full
fi
echo x >"$tmp/afile"
expect_2 "[9] --save-features under a regular file" "--save-features $tmp/afile/F" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" --save-features "$tmp/afile/F"
no_probe "[9] --save-features under a regular file"
expect_2 "[9] --export-safetensors in a missing folder" "--export-safetensors $tmp/nowhere/x.safetensors" \
  "$build/crate-probe" "$ckpt" --export-safetensors "$tmp/nowhere/x.safetensors"
"${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" --knn 0 --out "$tmp/p.jsonl" >"$tmp/out.txt" 2>&1
check "[9] a good --out is appended to" [ $? -eq 0 ] && [ "$(wc -l <"$tmp/p.jsonl")" -eq 1 ]

# [11] labels
shards "$tmp/l1e9" 1 28 28 300 7=1000000000
expect_2 "[11] a train label of 1e9" "label 1000000000" "${probe[@]}" --train "$tmp/l1e9" --test "$tmp/ok"
check "[11] ... naming the folder, the record and the range" \
  grep -q "$tmp/l1e9: record 7 has label 1000000000, outside \[0, 65535\]" "$tmp/out.txt"
no_probe "[11] 1e9"
"${probe[@]}" --train "$tmp/l1e9" --test "$tmp/ok" --out "$tmp/fresh.jsonl" >/dev/null 2>&1
check "[9] the check of a new --out leaves no file when the probe then fails" [ ! -e "$tmp/fresh.jsonl" ]
expect_2 "[11] ... on 2 ranks (rank 0 reads the labels, no rank is left waiting)" "record 7 has label 1000000000" \
  mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "${probe[@]}" --train "$tmp/l1e9" --test "$tmp/ok"
expect_2 "[4] ... and 32x32 test images on 2 ranks" "test images are 32x32x1 but" \
  mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "${probe[@]}" --train "$tmp/ok" --test "$tmp/big"
expect_2 "[9] ... and --out in a missing folder on 2 ranks" "--out $tmp/nowhere/p.jsonl" \
  mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "${probe[@]}" --train "$tmp/ok" --test "$tmp/ok" \
  --out "$tmp/nowhere/p.jsonl"
shards "$tmp/lmax" 1 28 28 300 299=2147483647
expect_2 "[11] a train label of INT_MAX" "record 299 has label 2147483647" \
  "${probe[@]}" --train "$tmp/lmax" --test "$tmp/ok"
shards "$tmp/lneg" 1 28 28 300 3=-1
expect_2 "[11] a train label of -1" "$tmp/lneg: record 3 has label -1" "${probe[@]}" --train "$tmp/lneg" --test "$tmp/ok"
no_probe "[11] -1"
shards "$tmp/l12" 1 28 28 200 5=12
expect_2 "[11] a test label the train set does not have" "$tmp/l12: record 5 has label 12, but the train set" \
  "${probe[@]}" --train "$tmp/ok" --test "$tmp/l12"
no_probe "[11] a test label the train set does not have"
expect_2 "[11] k-NN monitor: a label of 1e9 in its memory bank" "record 7 has label 1000000000" \
  "${pretrain[@]}" data.train="$tmp/l1e9" run.dir="$tmp/m11" data.test="$tmp/ok" eval.every=1 schedule.steps=2 \
  schedule.warmup_steps=1
check "[11] ... refused before training (no step logged)" [ ! -s "$tmp/m11/metrics.jsonl" ]

# [14] top-5 with fewer classes, k-NN sizes as used
shards "$tmp/c3" 1 28 28 300 $(for i in $(seq 0 299); do echo "$i=$((i % 3))"; done)
"${probe[@]}" --train "$tmp/c3" --test "$tmp/c3" --out "$tmp/c3.jsonl" >"$tmp/out.txt" 2>&1
check "[14] 3 classes: exit 0" [ $? -eq 0 ]
check "[14] 3 classes: no top-5 in the summary" bash -c "! grep -q 'top-5' '$tmp/out.txt'"
check "[14] 3 classes: no top-5 in the JSON line" bash -c "! grep -q 'top5' '$tmp/c3.jsonl'"
"${probe[@]}" --train "$tmp/D/train" --test "$tmp/D/test" --train-limit 8 --test-limit 50 --knn 20 >"$tmp/out.txt" 2>&1
check "[14] --knn 20 with 8 train images: exit 0" [ $? -eq 0 ]
check "[14] ... the summary says k=8" grep -q "k-NN (k=8)" "$tmp/out.txt"
check "[14] ... the JSON line says knn_k 8" grep -q '"knn_k":8,' "$tmp/out.txt"
check "[14] ... with a note" grep -q "note: --knn 20 is more than the 8 train images: k-NN uses k=8" "$tmp/out.txt"
shards "$tmp/t30" 1 28 28 30
"${pretrain[@]}" run.dir="$tmp/m14" data.test="$tmp/t30" eval.every=2 eval.train_samples=12 eval.test_samples=500 \
  eval.knn=20 schedule.steps=2 schedule.warmup_steps=1 >"$tmp/m14.txt" 2>&1
check "[14] k-NN monitor with a 30-image data.test and 12 train samples: exit 0" [ $? -eq 0 ]
check "[14] ... reports k=12 and the 30 test images used" grep -q "k-NN top-1 .*(k=12, 12 train / 30 test images)" \
  "$tmp/m14.txt"

# [11] [14] the text probe: labels are class files; a few texts of 2 classes
license_text "$tmp/T" >/dev/null 2>&1
"$build/crate-pretrain" configs/gpt2-tiny.yaml data.train="$tmp/T/train" data.val="$tmp/T/val" run.dir="$tmp/g" \
  eval.every=0 schedule.steps=2 schedule.warmup_steps=1 >/dev/null 2>&1
check "a gpt2-tiny checkpoint to probe" [ -d "$tmp/g/ckpt" ]
for s in train test; do
  mkdir -p "$tmp/X/$s"
  printf 'the sea is wide\n%%\nships sail at dawn\n%%\nwaves and salt\n' >"$tmp/X/$s/sea"
  printf 'bread and flour\n%%\nan oven is hot\n%%\nsalt the soup\n' >"$tmp/X/$s/food"
done
"$build/crate-probe" "$tmp/g/ckpt" --text-train "$tmp/X/train" --text-test "$tmp/X/test" --threads 1 --out "$tmp/x.jsonl" \
  >"$tmp/out.txt" 2>&1
check "[14] text probe, 2 classes, 6 train texts: exit 0" [ $? -eq 0 ]
check "[14] ... k-NN reports k=6" grep -q "k-NN (k=6)" "$tmp/out.txt"
check "[14] ... no top-5" bash -c "! grep -q 'top-5' '$tmp/out.txt' && ! grep -q top5 '$tmp/x.jsonl'"
expect_2 "[9] text probe: --out in a missing folder" "--out $tmp/nowhere/x.jsonl" \
  "$build/crate-probe" "$tmp/g/ckpt" --text-train "$tmp/X/train" --text-test "$tmp/X/test" --out "$tmp/nowhere/x.jsonl"
no_probe "[9] text probe --out"
mkdir "$tmp/many"
"$py" -c "
import os
for i in range(65537):
    open(os.path.join('$tmp/many', 'c%05d' % i), 'w').write('a text\\n')
"
expect_2 "[11] text probe: 65537 class files" "holds 65537 files, more than the 65536 classes" \
  "$build/crate-probe" "$tmp/g/ckpt" --text-train "$tmp/many" --text-test "$tmp/X/test"
rm -rf "$tmp/many"
finish
