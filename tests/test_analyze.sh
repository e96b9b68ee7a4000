# test_analyze.sh BUILD_DIR — crate-analyze on a short MAE run: one JSON line
# per layer with R^c inside (0, bound), sparsity in [0, 1] and a finite
# R(Z); the same numbers on a rerun and on 1 or 2 threads; --random-init
# differs from the trained weights; the PNG has three 460x340 panels;
# --reconstruct draws original | masked | reconstruction with the visible
# patches kept and the masked ones gray in the input; --attention draws the
# image and one heat map per head; on token shards it measures the text
# encoder of a gpt2 and a bert run over windows of their context, and the
# random init it rebuilds is the weights a run with lr 0 kept; eval.whitebox
# logs the same measures during training (what crate-analyze says of the
# saved checkpoint, the same on 2 ranks, bitwise the same after a resume);
# --help, and bad usage exits 2 naming the problem.
set -u
. "$(dirname "$0")/lib.sh" "$1"
analyze="$build/crate-analyze"
pretrain_tiny 1 "$tmp/run" schedule.steps=20 schedule.warmup_steps=2 >/dev/null 2>&1
check "a short MAE run to analyze" [ -d "$tmp/run/ckpt/step-000020" ]

"$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --images 64 --with-random-init --plot "$tmp/layers.png" \
  --out "$tmp/m.jsonl" --threads 1 >"$tmp/a.txt" 2>&1
check "crate-analyze exits 0" [ $? -eq 0 ]
sed 's/^/    /' "$tmp/a.txt" | grep -v '^    {'
depth=$(sed -n 's/^ *depth: *//p' configs/mae-tiny.yaml | head -1)
check "one JSON line per layer and run ($depth layers x 2)" [ "$(grep -c '^{"layer"' "$tmp/a.txt")" -eq $((2 * depth)) ]
check "--out got the same lines" cmp -s <(grep '^{"layer"' "$tmp/a.txt") "$tmp/m.jsonl"
check "R^c inside (0, bound), sparsity in [0, 1], R(Z) finite and positive" python3 - "$tmp/m.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = all(0 < r["rc"] < r["rc_bound"] and 0 <= r["sparsity"] <= 1 and math.isfinite(r["coding_rate"])
         and r["coding_rate"] > 0 and r["images"] == 64 for r in rows)
sys.exit(0 if ok and len(rows) > 0 else 1)
PY
check "trained and random-init weights measure differently" python3 - "$tmp/m.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t = [r["rc"] for r in rows if r["weights"] == "trained"]
r0 = [r["rc"] for r in rows if r["weights"] == "random init"]
sys.exit(0 if t and len(t) == len(r0) and t != r0 else 1)
PY
"$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --images 64 --threads 2 >"$tmp/b.txt" 2>&1
check "2 threads give the same numbers as 1" \
  cmp -s <(grep '"trained"' "$tmp/a.txt") <(grep '^{"layer"' "$tmp/b.txt")
check "the plot is a 1380x340 RGB PNG" python3 - "$tmp/layers.png" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
w, h, depth, color = struct.unpack('>IIBB', b[16:26])
sys.exit(0 if b[:8] == b'\x89PNG\r\n\x1a\n' and (w, h, depth, color) == (1380, 340, 8, 2) else 1)
PY

# A PNG's pixels as rows of bytes (8-bit gray or RGB, no interlace), for the checks below.
cat >"$tmp/png.py" <<'PY'
import struct, zlib
def read(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n'
    at, idat = 8, b''
    while at < len(b):
        n, kind = struct.unpack('>I4s', b[at:at + 8])
        if kind == b'IHDR': w, h, depth, color = struct.unpack('>IIBB', b[at + 8:at + 18])
        if kind == b'IDAT': idat += b[at + 8:at + 8 + n]
        at += 12 + n
    ch = {0: 1, 2: 3}[color]
    raw, stride, rows, prev = zlib.decompress(idat), w * ch, [], bytearray(w * ch)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b, c = (line[i - ch] if i >= ch else 0), prev[i], (prev[i - ch] if i >= ch else 0)
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)  # |p - a|, |p - b|, |p - c| for p = a + b - c
            pred = [0, a, b, (a + b) // 2, a if pa <= pb and pa <= pc else b if pb <= pc else c][f]
            line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows
PY
"$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --reconstruct 4 --first 10 --reconstruct-png "$tmp/rec.png" \
  --no-measures --threads 1 >"$tmp/r.txt" 2>&1
check "--reconstruct exits 0 and reports the masked-patch loss" grep -q "masked-patch loss [0-9]" "$tmp/r.txt"
check "--no-measures printed no layer lines" [ "$(grep -c '^{"layer"' "$tmp/r.txt")" -eq 0 ]
# mae-tiny: 28x28 images in 4x4 patches of 7 pixels, 4 of 16 visible; cells zoomed 4x to 112 pixels.
check "reconstructions: 3 columns x 4 rows of 112-pixel gray cells; 12 of 16 patches gray in the masked input, \
the 4 visible ones as in the original and the reconstruction" python3 - "$tmp/rec.png" "$tmp/png.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[2].rsplit('/', 1)[0]); import png
w, h, ch, rows = png.read(sys.argv[1])
assert (w, h, ch) == (4 + 3 * 116, 4 + 4 * 116, 1), (w, h, ch)
def patch(row, col, j):
    x0, y0 = 4 + col * 116 + (j % 4) * 28, 4 + row * 116 + (j // 4) * 28
    return [bytes(rows[y][x0:x0 + 28]) for y in range(y0, y0 + 28)]
for r in range(4):
    gray = [j for j in range(16) if all(set(l) == {128} for l in patch(r, 1, j))]
    seen = [j for j in range(16) if j not in gray]
    assert len(gray) == 12, (r, gray)
    assert all(patch(r, 0, j) == patch(r, 1, j) == patch(r, 2, j) for j in seen), r
    assert any(patch(r, 0, j) != patch(r, 2, j) for j in gray), r
PY
"$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --attention 3 --layer 1 --attention-png "$tmp/att.png" \
  --no-measures --threads 1 >"$tmp/t.txt" 2>&1
check "--attention exits 0 naming heads and layer" grep -q "heads 1-2 of layer 1" "$tmp/t.txt"
check "attention maps: 1 + 2 heads columns x 3 rows of RGB cells, every map reaching 1 (pale yellow)" \
  python3 - "$tmp/att.png" "$tmp/png.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[2].rsplit('/', 1)[0]); import png
w, h, ch, rows = png.read(sys.argv[1])
assert (w, h, ch) == (4 + 3 * 116, 4 + 3 * 116, 3), (w, h, ch)
for r in range(3):
    for k in range(2):
        x0, y0 = 4 + (1 + k) * 116, 4 + r * 116
        top = max(rows[y][x0 * 3 + 3 * i + 2] for y in range(y0, y0 + 112) for i in range(112))
        assert top > 120, (r, k, top)  # the yellow end of the ramp has a large blue part
PY
expect_2 "--layer beyond the depth" "--layer 9: the encoder has layers 1 to $depth" \
  "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --attention 2 --layer 9 --no-measures
expect_2 "--no-measures alone" "leaves nothing to do" "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --no-measures
expect_2 "--reconstruct past the end of --data" "do not exist" \
  "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --reconstruct 5 --first 9998 --no-measures
mpirun -np 1 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/classify-tiny.yaml \
  data.train="$tmp/D/train" data.test="$tmp/D/test" run.dir="$tmp/cls" schedule.steps=2 schedule.warmup_steps=1 \
  eval.every=0 >/dev/null 2>&1
check "a 2-step classifier run" [ -d "$tmp/cls/ckpt/step-000002" ]
expect_2 "--reconstruct of a classifier" "reconstructions need a mae run's checkpoint" \
  "$analyze" "$tmp/cls/ckpt" --data "$tmp/D/test" --reconstruct 2 --no-measures

# eval.whitebox: the measures in metrics.jsonl while training.
wb=(eval.every=10 eval.whitebox=32 eval.train_samples=200 eval.test_samples=50 data.test="$tmp/D/test"
  schedule.steps=20 schedule.warmup_steps=2)
pretrain_tiny 1 "$tmp/wb1" "${wb[@]}" >"$tmp/wb1.txt" 2>&1
pretrain_tiny 2 "$tmp/wb2" "${wb[@]}" >"$tmp/wb2.txt" 2>&1
pretrain_tiny 1 "$tmp/wbr" "${wb[@]}" run.stop_after=10 >/dev/null 2>&1
pretrain_tiny 1 "$tmp/wbr" "${wb[@]}" >"$tmp/wbr.txt" 2>&1
check "eval.whitebox prints a summary per evaluation" [ "$(grep -c '^whitebox step' "$tmp/wb1.txt")" -eq 2 ]
grep '^whitebox step' "$tmp/wb1.txt" | sed 's/^/    /'
"$analyze" "$tmp/wb1/ckpt" --data "$tmp/D/test" --images 32 --threads 1 --out "$tmp/wb1-a.jsonl" >/dev/null 2>&1
check "eval.whitebox: rc_L, sparsity_L, coding_rate_L of $depth layers at steps 10 and 20; at step 20 what \
crate-analyze measures of the final checkpoint; 2 ranks within 1e-4; resumed at 10: the same lines" \
  python3 - "$tmp" "$depth" <<'PY'
import json, sys
tmp, depth = sys.argv[1], int(sys.argv[2])
def lines(run):
    rows = [json.loads(l) for l in open(f"{tmp}/{run}/metrics.jsonl")]
    return [{k: v for k, v in r.items() if k != "eval_s"} for r in rows if "rc_1" in r]
one, two, resumed = lines("wb1"), lines("wb2"), lines("wbr")
keys = [f"{m}_{l}" for m in ("rc", "sparsity", "coding_rate") for l in range(1, depth + 1)]
assert [r["step"] for r in one] == [10, 20] and all(k in r for r in one for k in keys), one
assert all(r["whitebox_samples"] == 32 for r in one)
analyzed = {r["layer"]: r for r in map(json.loads, open(f"{tmp}/wb1-a.jsonl"))}
for l in range(1, depth + 1):
    for m, a in (("rc", "rc"), ("sparsity", "sparsity"), ("coding_rate", "coding_rate")):
        assert abs(one[1][f"{m}_{l}"] - analyzed[l][a]) <= 1e-5 * abs(analyzed[l][a]), (m, l)
assert all(abs(a[k] - b[k]) <= 1e-4 * abs(a[k]) for a, b in zip(one, two) for k in keys), (one, two)
assert resumed == one, (resumed, one)
PY
expect_2 "eval.whitebox without eval.every" "set eval.every too" \
  "$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/wbx" eval.whitebox=8

# Text encoders, on token shards of Debian's license texts.
license_text "$tmp/T" >/dev/null 2>&1
check "token shards for the text models" [ -d "$tmp/T/val" ]
tdepth=$(sed -n 's/^ *depth: *//p' configs/gpt2-tiny.yaml | head -1)
context=$(sed -n 's/^ *context: *//p' configs/gpt2-tiny.yaml | head -1)
for objective in gpt2 bert; do
  train_text "configs/$objective-tiny.yaml" "$objective" 1 schedule.steps=10 schedule.warmup_steps=1
  "$analyze" "$tmp/$objective/ckpt" --data "$tmp/T/val" --images 12 --with-random-init --threads 1 \
    --out "$tmp/$objective.jsonl" >"$tmp/$objective-a.txt" 2>&1
  check "$objective: crate-analyze exits 0 on token shards" [ $? -eq 0 ]
  grep -v '^{' "$tmp/$objective-a.txt" | sed 's/^/    /'
  check "$objective: ${tdepth} layers x 2 JSON lines of 12 windows of $context tokens, R^c inside (0, bound), \
sparsity in [0, 1]" python3 - "$tmp/$objective.jsonl" "$tdepth" "$context" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = len(rows) == 2 * int(sys.argv[2]) and all(
    r["images"] == 12 and r["tokens"] == int(sys.argv[3]) and 0 < r["rc"] < r["rc_bound"] and 0 <= r["sparsity"] <= 1
    for r in rows)
sys.exit(0 if ok else 1)
PY
done
train_text configs/gpt2-tiny.yaml lr0 1 schedule.steps=1 schedule.warmup_steps=0 optim.lr=0 optim.min_lr=0
"$analyze" "$tmp/lr0/ckpt" --data "$tmp/T/val" --images 12 --with-random-init --threads 1 >"$tmp/lr0-a.txt" 2>&1
check "--random-init rebuilds the weights training started from (a step at lr 0 kept them)" python3 - "$tmp/lr0-a.txt" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
key = lambda r: (r["layer"], r["rc"], r["sparsity"], r["coding_rate"])
t = [key(r) for r in rows if r["weights"] == "trained"]
sys.exit(0 if t and t == [key(r) for r in rows if r["weights"] == "random init"] else 1)
PY
expect_2 "--weights teacher of a text model" "a text model has only its trained weights" \
  "$analyze" "$tmp/gpt2/ckpt" --data "$tmp/T/val" --weights teacher
expect_2 "an image model on token shards" "no text model" "$analyze" "$tmp/run/ckpt" --data "$tmp/T/val"

"$analyze" --help >"$tmp/help.txt"
check "--help exits 0 and explains R^c" grep -q "compression term" "$tmp/help.txt"
expect_2 "no --data" "give a checkpoint and --data" "$analyze" "$tmp/run/ckpt"
expect_2 "an unknown option" "unknown option '--imags'" "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --imags 5
expect_2 "--images 0" "needs a whole number from 1" "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --images 0
finish
