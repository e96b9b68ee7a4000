# test_analyze.sh BUILD_DIR — crate-analyze on a short MAE run: one JSON line
# per layer with R^c inside (0, bound), sparsity in [0, 1] and a finite
# R(Z); the same numbers on a rerun and on 1 or 2 threads; --random-init
# differs from the trained weights; the PNG has three 460x340 panels;
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

"$analyze" --help >"$tmp/help.txt"
check "--help exits 0 and explains R^c" grep -q "compression term" "$tmp/help.txt"
expect_2 "no --data" "give a checkpoint and --data" "$analyze" "$tmp/run/ckpt"
expect_2 "an unknown option" "unknown option '--imags'" "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --imags 5
expect_2 "--images 0" "needs a whole number from 1" "$analyze" "$tmp/run/ckpt" --data "$tmp/D/test" --images 0
finish
