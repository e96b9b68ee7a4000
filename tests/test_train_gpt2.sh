# test_train_gpt2.sh BUILD_DIR — the causal language model end to end, on
# token shards that crate-data makes from Debian's license texts
# (/usr/share/common-licenses, V 512) with configs/gpt2-tiny.yaml:
#  - 1, 2 and 4 ranks log the same training loss at every step (≤ 1e-4
#    relative) and the same validation loss, and the validation loss falls;
#  - 40 steps straight vs 20 (run.stop_after) + resume, and vs a 2-rank run
#    preempted by SIGUSR1 and resumed: losses and final state bitwise equal;
#  - every checkpoint holds the tokenizer, so crate-generate needs nothing
#    else (the data folder is removed first): greedy decoding prints the same
#    text twice, sampling with one seed too, and another seed differs;
#  - bad input: a vocabulary that differs from model.vocab_size, image shards
#    as data.train, a val set made by another tokenizer, resuming on data of
#    another tokenizer of the same size, a checkpoint of an image model given
#    to crate-generate — each exit 2 with the file and fix.
set -u
. "$(dirname "$0")/lib.sh" "$1"
license_text "$tmp/T" >"$tmp/data.txt" 2>&1
check "crate-data text exits 0" [ $? -eq 0 ]
check "it wrote train and val" [ -d "$tmp/T/train" ] && [ -d "$tmp/T/val" ]

# gpt NAME RANKS [overrides...]
gpt() { train_text configs/gpt2-tiny.yaml "$@"; }

gpt w1 1
check "1 rank: exit 0" [ $? -eq 0 ]
check "1 rank: 40 losses" [ "$(losses w1 | wc -l)" -eq 40 ]
check "1 rank: 2 validation losses" [ "$(val w1 | wc -l)" -eq 2 ]
check "progress lines count tokens per second" grep -q "tok/s" "$tmp/w1.txt"
first=$(losses w1 | head -1)
last_val=$(val w1 | tail -1)
echo "1 rank: first loss $first (ln 512 = 6.238), validation loss after 40 steps $last_val"
check "the first loss is near ln V" awk -v l="$first" 'BEGIN { exit !(l > 5.9 && l < 6.6) }'
check "the validation loss fell below the first loss" awk -v a="$first" -v b="$last_val" 'BEGIN { exit !(b < a - 0.5) }'
for w in 2 4; do
  gpt "w$w" "$w"
  check "$w ranks: exit 0" [ $? -eq 0 ]
  d=$(worst_rel w1 "w$w" losses)
  v=$(worst_rel w1 "w$w" val)
  echo "$w ranks: largest relative difference to 1 rank: training loss $d, validation loss $v"
  check "$w ranks: training losses within 1e-4 of 1 rank" awk -v w="$d" 'BEGIN { exit !(w < 1e-4) }'
  check "$w ranks: validation losses within 1e-4 of 1 rank" awk -v w="$v" 'BEGIN { exit !(w < 1e-4) }'
done

gpt split 1 run.stop_after=20
gpt split 1
check_resumed w1 split 20

# Preempted by SIGUSR1 on 2 ranks at a random step, resumed on 2 ranks.
gpt long2 2 schedule.steps=1000 eval.every=0
mpirun -np 2 "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/gpt2-tiny.yaml \
  data.train="$tmp/T/train" data.val="$tmp/T/val" run.dir="$tmp/usr1" schedule.steps=1000 eval.every=0 \
  >>"$tmp/usr1.txt" 2>&1 &
launcher=$!
k=$((RANDOM % 30 + 5))
for _ in $(seq 1200); do [ "$(losses usr1 2>/dev/null | wc -l)" -ge "$k" ] && break; sleep 0.05; done
kill -USR1 "$launcher"
wait "$launcher"
status=$?
saved=$(cat "$tmp/usr1/ckpt/latest" 2>/dev/null)
echo "SIGUSR1 after step $k: exit $status, checkpoint $saved"
check "SIGUSR1: exit 75" [ "$status" -eq 75 ]
check "SIGUSR1: the checkpoint is before the end" awk -v s="${saved#step-}" 'BEGIN { s += 0; exit !(s > 0 && s < 1000) }'
gpt usr1 2 schedule.steps=1000 eval.every=0
check "SIGUSR1: resumed run exits 0" [ $? -eq 0 ]
check "SIGUSR1: losses bitwise equal to the uninterrupted run" cmp -s <(losses long2) <(losses usr1)

"$build/crate-ckpt" info "$tmp/w1/ckpt" >"$tmp/info.txt" 2>&1
check "the checkpoint lists tokenizer.model" grep -q "tokenizer.model" "$tmp/info.txt"
mv "$tmp/T" "$tmp/T.away" # nothing below may need the data or its tokenizer
gen() { "$build/crate-generate" "$tmp/w1/ckpt" --prompt "This License" --tokens 30 "$@"; }
gen --temperature 0 >"$tmp/greedy1.txt" 2>&1
check "crate-generate greedy exits 0" [ $? -eq 0 ]
gen --temperature 0 >"$tmp/greedy2.txt" 2>&1
check "greedy decoding prints the same text twice" cmp -s "$tmp/greedy1.txt" "$tmp/greedy2.txt"
check "the output starts with the prompt" grep -q "^This License" "$tmp/greedy1.txt"
gen --seed 5 >"$tmp/s5a.txt" 2>&1
gen --seed 5 >"$tmp/s5b.txt" 2>&1
gen --seed 6 >"$tmp/s6.txt" 2>&1
check "sampling with one seed prints the same text" cmp -s "$tmp/s5a.txt" "$tmp/s5b.txt"
differs() { ! cmp -s "$1" "$2"; }
check "another seed prints another text" differs "$tmp/s5a.txt" "$tmp/s6.txt"
echo "greedy: $(cat "$tmp/greedy1.txt")"
echo "seed 5: $(cat "$tmp/s5a.txt")"
mv "$tmp/T.away" "$tmp/T"

gpt badvocab 1 model.vocab_size=1000
check "model.vocab_size mismatch: exit 2" [ $? -eq 2 ]
check "... naming the data and the fix" grep -q "has 512 ids but model.vocab_size = 1000: set model.vocab_size=512" "$tmp/badvocab.txt"
mpirun -np 1 "${mpirun_flags[@]}" "$build/crate-pretrain" configs/gpt2-tiny.yaml data.train="$tmp/D/train" \
  data.val="$tmp/T/val" run.dir="$tmp/images" >"$tmp/images.txt" 2>&1
check "image shards as text data: exit 2" [ $? -eq 2 ]
check "... with a message naming the folder" grep -q "$tmp/D/train" "$tmp/images.txt"
license_text "$tmp/T400" --spm-train 400 >/dev/null 2>&1
gpt otherval 1 data.val="$tmp/T400/val"
check "a val set of another tokenizer: exit 2" [ $? -eq 2 ]
check "... saying so" grep -q "was tokenized with another tokenizer than data.train" "$tmp/otherval.txt"
license_text "$tmp/B512" --spm-type bpe >/dev/null 2>&1
gpt w1 1 data.train="$tmp/B512/train" data.val="$tmp/B512/val" schedule.steps=60
check "resuming with data of another tokenizer (same vocab size): exit 2" [ $? -eq 2 ]
check "... saying the checkpoint has another tokenizer.model" grep -q "was written with another tokenizer.model than this run's" "$tmp/w1.txt"
pretrain_tiny 1 "$tmp/mae" schedule.steps=2 schedule.warmup_steps=1 >/dev/null 2>&1
"$build/crate-generate" "$tmp/mae/ckpt" --prompt x >"$tmp/genmae.txt" 2>&1
check "crate-generate on an image model: exit 2" [ $? -eq 2 ]
check "... saying it has no text model" grep -q "the checkpoint's objective has no text model" "$tmp/genmae.txt"
"$build/crate-generate" "$tmp/nowhere" --prompt x >"$tmp/gennone.txt" 2>&1
check "crate-generate on a missing checkpoint: exit 2" [ $? -eq 2 ]
finish
