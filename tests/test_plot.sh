# test_plot.sh BUILD_DIR — crate-plot on the metrics of two short runs: the
# default keys (loss, lr and the k-NN evaluation), a PNG of one 440x330
# panel per key; --keys, a run given as its metrics.jsonl; --x elapsed_s
# (evaluation lines placed at their step's time); eval.whitebox's per-layer
# keys left out of the defaults but plotted by --keys; a key no run
# logged, a damaged line (named by file and line), no run, and an unknown
# option exit 2; --help.
set -u
. "$(dirname "$0")/lib.sh" "$1"
plot="$build/crate-plot"
for lr in 0.003 0.001; do
  pretrain_tiny 1 "$tmp/lr$lr" schedule.steps=40 schedule.warmup_steps=4 log.every=4 data.test="$tmp/D/test" \
    eval.every=20 eval.whitebox=16 optim.lr=$lr >/dev/null 2>&1
done
check "two runs with metrics" test -s "$tmp/lr0.003/metrics.jsonl" -a -s "$tmp/lr0.001/metrics.jsonl"
# png_size FILE: "W H" of a PNG
png_size() { python3 -c "import struct,sys; b=open(sys.argv[1],'rb').read(); print(*struct.unpack('>II', b[16:24]))" "$1"; }

"$plot" "$tmp/lr0.003" "$tmp/lr0.001/metrics.jsonl" --out "$tmp/c.png" >"$tmp/p.txt" 2>&1
check "crate-plot exits 0" [ $? -eq 0 ]
check "default keys: loss, lr and the evaluation" grep -q "wrote .*c.png: loss lr knn_top1 against step, 2 runs" "$tmp/p.txt"
check "3 panels of 440x330 (got $(png_size "$tmp/c.png"))" [ "$(png_size "$tmp/c.png")" = "1320 330" ]
"$plot" "$tmp/lr0.003" --keys grad_norm --linear --out "$tmp/g.png" >/dev/null 2>&1
check "--keys grad_norm: one panel (got $(png_size "$tmp/g.png"))" [ "$(png_size "$tmp/g.png")" = "440 330" ]

"$plot" "$tmp/lr0.003" "$tmp/lr0.001" --keys loss,knn_top1,rc_2 --x elapsed_s --out "$tmp/t.png" >"$tmp/t.txt" 2>&1
check "--x elapsed_s: loss, the k-NN top-1 and layer 2's R^c against time" \
  grep -q "wrote .*t.png: loss knn_top1 rc_2 against elapsed_s, 2 runs" "$tmp/t.txt"
check "--x elapsed_s: three panels" [ "$(png_size "$tmp/t.png")" = "1320 330" ]
expect_2 "a key no run logged" "no run logged the key 'top9'" "$plot" "$tmp/lr0.003" --keys loss,top9 --out "$tmp/x.png"
check "... and no PNG" [ ! -e "$tmp/x.png" ]
cp "$tmp/lr0.003/metrics.jsonl" "$tmp/bad.jsonl"
echo '{"step":41,"loss":oops}' >>"$tmp/bad.jsonl"
n=$(wc -l <"$tmp/bad.jsonl")
expect_2 "a damaged line" "bad.jsonl:$n: a value that is not a number" "$plot" "$tmp/bad.jsonl"
expect_2 "no run" "give at least one run" "$plot" --out "$tmp/x.png"
expect_2 "an unknown option" "unknown option '--kyes'" "$plot" "$tmp/lr0.003" --kyes loss
expect_2 "a missing run" "cannot open" "$plot" "$tmp/nowhere"
"$plot" --help >"$tmp/help.txt"
check "--help exits 0" grep -q "one panel per key" "$tmp/help.txt"
finish
