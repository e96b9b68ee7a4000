# test_train_mae.sh BUILD_DIR — mae-tiny trains on Fashion-MNIST for 200 steps
# with the issue's exact command line, and its loss falls clearly: the mean
# over the last 10% of steps is below 70% of the mean of the first 5 steps.
set -u
. "$(dirname "$0")/lib.sh" "$1"

"$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/R" schedule.steps=200 \
  >"$tmp/out.txt" 2>&1
check "crate-pretrain exits 0" [ $? -eq 0 ]
check "metrics.jsonl has 200 lines" [ "$(wc -l <"$tmp/R/metrics.jsonl")" -eq 200 ]
check "final checkpoint step-000200 verifies" "$build/crate-ckpt" verify "$tmp/R/ckpt/step-000200"
check "progress lines printed" grep -q "step 200/200 | loss" "$tmp/out.txt"
check "resolved config printed" grep -q "global_batch: 32" "$tmp/out.txt"

json_field "$tmp/R/metrics.jsonl" loss >"$tmp/loss.txt"
verdict=$(awk '{ v[NR] = $1 } END {
  for (i = 1; i <= 5; i++) first += v[i]; first /= 5
  n = int(NR / 10); for (i = NR - n + 1; i <= NR; i++) last += v[i]; last /= n
  printf "first5=%.4f last10%%=%.4f ratio=%.3f %s\n", first, last, last / first, (last < 0.7 * first) ? "ok" : "FAIL" }' "$tmp/loss.txt")
echo "loss: $verdict"
check "loss falls clearly" grep -q " ok$" <<<"$verdict"
for key in step loss lr grad_norm samples_per_s; do
  check "metrics carry $key" [ "$(json_field "$tmp/R/metrics.jsonl" "$key" | wc -l)" -eq 200 ]
done
finish
