# test_train_bert.sh BUILD_DIR — the masked language model end to end, on
# token shards of Debian's license texts (V 512) with configs/bert-tiny.yaml:
#  - 1, 2 and 4 ranks, and micro-batches of 1 and 2 windows, log the same
#    training loss at every step (≤ 1e-4 relative) and the same validation
#    loss and masked-token accuracy; the validation loss falls;
#  - 40 steps straight vs 20 (run.stop_after) + resume: losses and final
#    state bitwise equal; the tied head alone trains too;
#  - bad input: bert.mask_token + bert.random_token > 1, and crate-generate
#    on a masked language model, exit 2 with the key or the reason.
set -u
. "$(dirname "$0")/lib.sh" "$1"
license_text "$tmp/T" >"$tmp/data.txt" 2>&1
check "crate-data text exits 0" [ $? -eq 0 ]

# bert NAME RANKS [overrides...]
bert() { train_text configs/bert-tiny.yaml "$@"; }
acc() { json_field "$tmp/$1/metrics.jsonl" val_masked_acc; }

bert w1 1
check "1 rank: exit 0" [ $? -eq 0 ]
check "1 rank: 40 losses" [ "$(losses w1 | wc -l)" -eq 40 ]
check "1 rank: 2 validation losses and accuracies" [ "$(val w1 | wc -l)" -eq 2 ] && [ "$(acc w1 | wc -l)" -eq 2 ]
check "the eval line reports the masked-token accuracy" grep -q "val masked-token loss .* accuracy" "$tmp/w1.txt"
first=$(losses w1 | head -1)
last_val=$(val w1 | tail -1)
echo "1 rank: first loss $first (ln 512 = 6.238), validation loss after 40 steps $last_val, accuracy $(acc w1 | tail -1)"
check "the first loss is near ln V" awk -v l="$first" 'BEGIN { exit !(l > 5.9 && l < 6.8) }'
check "the validation loss fell below the first loss" awk -v a="$first" -v b="$last_val" 'BEGIN { exit !(b < a - 0.5) }'
for run in "2 w2 2" "4 w4 4" "micro1 m1 1 schedule.micro_batch=1" "micro2 m2 2 schedule.micro_batch=2"; do
  set -- $run
  label=$1 name=$2 ranks=$3
  shift 3
  bert "$name" "$ranks" "$@"
  check "$label: exit 0" [ $? -eq 0 ]
  check_same_curves w1 "$label ($ranks ranks $*)" "$name" losses val acc
done

bert split 1 run.stop_after=20
bert split 1
check_resumed w1 split 20
"$build/crate-ckpt" info "$tmp/w1/ckpt" >"$tmp/info.txt" 2>&1
check "the checkpoint lists tokenizer.model and the head" grep -q "tokenizer.model" "$tmp/info.txt"

bert tied 1 bert.head=tied
check "tied head: exit 0" [ $? -eq 0 ]
check "tied head: the validation loss fell" awk -v a="$first" -v b="$(val tied | tail -1)" 'BEGIN { exit !(b < a - 0.5) }'

bert badfrac 1 bert.mask_token=0.9 bert.random_token=0.2
check "mask_token + random_token > 1: exit 2" [ $? -eq 2 ]
check "... naming both keys" grep -q "bert.mask_token = 0.9 .* plus bert.random_token = 0.2" "$tmp/badfrac.txt"
"$build/crate-generate" "$tmp/w1/ckpt" --prompt x >"$tmp/gen.txt" 2>&1
check "crate-generate on a masked language model: exit 2" [ $? -eq 2 ]
check "... saying why" grep -q "is a masked language model" "$tmp/gen.txt"
finish
