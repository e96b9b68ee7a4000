# test_probe_text.sh BUILD_DIR — text probes of saved encoders, end to end:
#  - crate-data fortunes on tests/fixtures/fortunes (4 categories of 40
#    texts, "birds" and "garden" of 12 each; "birds" is Latin-1 beside a
#    birds.u8 in UTF-8, cooking.dat is strfile's binary index, computing has
#    overstrikes and trailing blanks, cooking an empty record and no final
#    %): round(80%) of each class to train, the rest to test; a tie broken by
#    name; the .u8 edition read; overstrikes rendered; the same bytes when
#    run twice; replacing its own output, refusing a foreign folder, too many
#    --classes and a missing source (exit 2);
#  - on the real /usr/share/games/fortunes when installed: the 10 largest
#    categories, their counts split 80/20, deterministic;
#  - a gpt2-tiny checkpoint (token data from Debian's license texts, V 512)
#    probed on the fixture split (5 classes, 138 train / 34 test texts): the summary and a JSON line with every
#    key; 1 and 2 ranks give the same numbers; --baseline bow and
#    --random-init work; --random-init of a checkpoint trained at lr 0 gives
#    the checkpoint's own features bit for bit (the trainer's initialisation,
#    rebuilt); --batch 1 gives the features of the default batching;
#    --pool first/last and --layers 1; a bert-tiny checkpoint (bidirectional)
#    with --pool first on 1 and 2 ranks, and its --random-init;
#  - bad input exits 2 with a message: a missing folder, test classes that
#    differ from train's, a gpt2 checkpoint given image shards, an MAE
#    checkpoint given texts, image-only options with texts and the reverse.
set -u
. "$(dirname "$0")/lib.sh" "$1"
py=/usr/bin/python3
fixture=tests/fixtures/fortunes

# ---- crate-data fortunes ----
"$build/crate-data" fortunes "$tmp/F" --source "$fixture" --classes 4 >"$tmp/f4.txt" 2>&1
check "fortunes --classes 4 on the fixture exits 0" [ $? -eq 0 ]
cat "$tmp/f4.txt"
records() { grep -c '^%$' "$1"; }
for c in computing cooking sailing weather; do
  check "$c: 32 train, 8 test" [ "$(records "$tmp/F/train/$c")" -eq 32 ] && [ "$(records "$tmp/F/test/$c")" -eq 8 ]
done
check "the 4 largest only" [ "$(ls "$tmp/F/train" | wc -l)" -eq 4 ] && [ ! -e "$tmp/F/train/birds" ]
check "the summary counts 128 train and 32 test" grep -Eq "total +160 +128 +32" "$tmp/f4.txt"
check "overstrikes are rendered" grep -q "It runs like x, where x is something \*very\* slow." \
  "$tmp/F/train/computing" "$tmp/F/test/computing"
check "no backspace is left" bash -c "! grep -rq $'\b' '$tmp/F'"
check "no trailing blanks are left" bash -c "! grep -rEq '[[:space:]]\$' '$tmp/F/train' '$tmp/F/test'"
check "the empty record is skipped" bash -c "! grep -Pzq '\n%\n%\n' '$tmp/F/train/cooking'"

"$build/crate-data" fortunes "$tmp/F5" --source "$fixture" --classes 5 >"$tmp/f5.txt" 2>&1
check "--classes 5 takes birds (12 texts, the tie with garden broken by name)" [ -e "$tmp/F5/train/birds" ] \
  && [ ! -e "$tmp/F5/train/garden" ]
check "birds: 10 train, 2 test" [ "$(records "$tmp/F5/train/birds")" -eq 10 ] && [ "$(records "$tmp/F5/test/birds")" -eq 2 ]
check "birds came from birds.u8 (UTF-8)" grep -q "wéren sings at dawn in the bûsh" "$tmp/F5/train/birds" \
  "$tmp/F5/test/birds"
"$build/crate-data" fortunes "$tmp/F5b" --source "$fixture" --classes 5 >/dev/null 2>&1
check "the same source gives the same bytes" diff -r "$tmp/F5" "$tmp/F5b"
check "a category's split does not depend on the others chosen" cmp -s "$tmp/F/test/sailing" "$tmp/F5/test/sailing"
"$build/crate-data" fortunes "$tmp/F5" --source "$fixture" --classes 4 >/dev/null 2>&1
check "its own output is replaced" [ $? -eq 0 ] && [ ! -e "$tmp/F5/train/birds" ] && [ ! -e "$tmp/F5/train.partial" ]
mkdir -p "$tmp/G/train"
echo mine >"$tmp/G/train/notes"
"$build/crate-data" fortunes "$tmp/G" --source "$fixture" --classes 4 >"$tmp/g.txt" 2>&1
check "a foreign OUT_DIR/train is refused (exit 2)" [ $? -eq 2 ] && grep -q "not replaced" "$tmp/g.txt" && \
  [ "$(cat "$tmp/G/train/notes")" = mine ]
"$build/crate-data" fortunes "$tmp/H" --source "$fixture" >"$tmp/h.txt" 2>&1
check "the default 10 classes of a 6-category source: exit 2" [ $? -eq 2 ] && \
  grep -q "only 6 categories with texts; give --classes 6 or fewer" "$tmp/h.txt"
"$build/crate-data" fortunes "$tmp/H" --source "$tmp/nowhere" >"$tmp/h2.txt" 2>&1
check "a missing source: exit 2 naming the package" [ $? -eq 2 ] && grep -q "install the fortunes package" "$tmp/h2.txt"
"$build/crate-data" --help | grep -q "crate-data fortunes OUT_DIR \[--source DIR\] \[--classes N\]"
check "--help documents fortunes" [ $? -eq 0 ]

if [ -d /usr/share/games/fortunes ]; then
  "$build/crate-data" fortunes "$tmp/R" >"$tmp/real.txt" 2>&1
  check "the real fortunes: exit 0" [ $? -eq 0 ]
  cat "$tmp/real.txt"
  for c in people definitions cookie computers songs-poems politics miscellaneous work science men-women; do
    n=$(awk -v c="$c" '$1 == c { print $2 }' "$tmp/real.txt")
    a=$(records "$tmp/R/train/$c")
    b=$(records "$tmp/R/test/$c")
    check "real $c: $a train + $b test = $n, train = round(0.8 n)" [ "$((a + b))" -eq "$n" ] && \
      [ "$a" -eq $(((8 * n + 5) / 10)) ]
  done
  check "the real fortunes: 10 classes" [ "$(ls "$tmp/R/train" | wc -l)" -eq 10 ]
  "$build/crate-data" fortunes "$tmp/R2" >/dev/null 2>&1
  check "the real fortunes: the same bytes twice" diff -r "$tmp/R" "$tmp/R2"
else
  echo "no /usr/share/games/fortunes (package fortunes): the real-data checks are skipped"
fi

# ---- a tiny causal model, probed ----
license_text "$tmp/T" >"$tmp/data.txt" 2>&1
check "token data for the models" [ $? -eq 0 ]
train() { # train CONFIG RUN_DIR [overrides...]
  local config=$1 dir=$2
  shift 2
  "$build/crate-pretrain" "$config" data.train="$tmp/T/train" data.val="$tmp/T/val" run.dir="$dir" \
    eval.every=0 dist.threads_per_rank=1 "$@" >"$dir.txt" 2>&1
}
gpt() { train configs/gpt2-tiny.yaml "$@"; }
gpt "$tmp/g"
check "gpt2-tiny trains" [ $? -eq 0 ]
probe() { # probe RANKS OUT CKPT [options...]
  local ranks=$1 out=$2 ckpt=$3
  shift 3
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-probe" "$ckpt" \
    --text-train "$tmp/F5b/train" --text-test "$tmp/F5b/test" --threads 1 "$@" >"$out" 2>&1
}
numbers() { tail -1 "$1" | sed 's/"seconds":[^}]*//'; }
probe 1 "$tmp/p1.txt" "$tmp/g/ckpt" --baseline bow --out "$tmp/p.jsonl"
check "text probe on 1 rank exits 0" [ $? -eq 0 ]
cat "$tmp/p1.txt"
probe 2 "$tmp/p2.txt" "$tmp/g/ckpt" --baseline bow
check "text probe on 2 ranks exits 0" [ $? -eq 0 ]
echo "2 ranks: $(numbers "$tmp/p2.txt")"
check "1 and 2 ranks give the same numbers" [ "$(numbers "$tmp/p1.txt")" = "$(numbers "$tmp/p2.txt")" ]
check "the summary prints the probes and the baselines" grep -q "linear probe   top-1" "$tmp/p1.txt" && \
  grep -q "k-NN (k=20)    top-1" "$tmp/p1.txt" && grep -q "tf-idf k-NN    top-1" "$tmp/p1.txt"
check "the JSON line has every key" "$py" -c "
import json
d = json.loads(open('$tmp/p.jsonl').read())
for k in ('linear_top1', 'knn_top1', 'bow_linear_top1', 'tfidf_linear_top1', 'tfidf_knn_top1', 'pool', 'layers',
          'objective', 'random_init', 'n_train', 'n_test', 'classes', 'context', 'step', 'checkpoint'):
    assert k in d, k
assert d['objective'] == 'gpt2' and d['pool'] == 'mean' and d['layers'] == 2 and d['random_init'] is False, d
assert d['n_train'] == 138 and d['n_test'] == 34 and d['classes'] == 5, d
assert all(0 <= d[k] <= 1 for k in ('linear_top1', 'knn_top1', 'bow_linear_top1', 'tfidf_linear_top1'))
assert d['tfidf_linear_top1'] > 0.5, d  # the fixture's classes have words of their own
"
probe 1 "$tmp/r1.txt" "$tmp/g/ckpt" --random-init
check "--random-init exits 0" [ $? -eq 0 ] && grep -q '"random_init":true' "$tmp/r1.txt"
echo "random init: $(numbers "$tmp/r1.txt")"

gpt "$tmp/g0" optim.lr=0 optim.min_lr=0 schedule.steps=2 schedule.warmup_steps=1
check "a run at lr 0 trains" [ $? -eq 0 ]
probe 1 "$tmp/z1.txt" "$tmp/g0/ckpt" --save-features "$tmp/Z1" --knn 0
probe 1 "$tmp/z2.txt" "$tmp/g0/ckpt" --save-features "$tmp/Z2" --knn 0 --random-init
check "--random-init rebuilds the trainer's initial weights: the lr-0 checkpoint's features, bitwise" \
  cmp -s "$tmp/Z1/train_features.npy" "$tmp/Z2/train_features.npy"
probe 1 "$tmp/z3.txt" "$tmp/g0/ckpt" --save-features "$tmp/Z3" --knn 0 --batch 1
check "--batch 1 gives the features of the default batches (to 1e-5)" "$py" -c "
import numpy as np
a, b = np.load('$tmp/Z1/test_features.npy'), np.load('$tmp/Z3/test_features.npy')
la, lb = np.load('$tmp/Z1/test_labels.npy'), np.load('$tmp/Z3/test_labels.npy')
assert a.shape == (34, 64) and (la == lb).all(), a.shape
assert np.abs(a - b).max() <= 1e-5 * max(1, np.abs(a).max()), np.abs(a - b).max()
"
probe 1 "$tmp/q1.txt" "$tmp/g/ckpt" --pool last --layers 1 --knn 0
check "--pool last --layers 1" grep -q '"pool":"last".*"layers":1' "$tmp/q1.txt"
probe 1 "$tmp/q2.txt" "$tmp/g/ckpt" --pool first --knn 0
check "--pool first" grep -q '"pool":"first"' "$tmp/q2.txt"

# A bidirectional encoder: bert-tiny, its bos token pooled.
train configs/bert-tiny.yaml "$tmp/b"
check "bert-tiny trains" [ $? -eq 0 ]
probe 1 "$tmp/b1.txt" "$tmp/b/ckpt" --pool first --baseline bow
check "a bert checkpoint probes (--pool first)" grep -q '"objective":"bert","random_init":false,"pool":"first"' \
  "$tmp/b1.txt"
probe 2 "$tmp/b2.txt" "$tmp/b/ckpt" --pool first --baseline bow
check "bert: 1 and 2 ranks give the same numbers" [ "$(numbers "$tmp/b1.txt")" = "$(numbers "$tmp/b2.txt")" ]
echo "bert: $(numbers "$tmp/b1.txt")"
probe 1 "$tmp/b3.txt" "$tmp/b/ckpt" --random-init --knn 0
check "bert: --random-init" grep -q '"objective":"bert","random_init":true' "$tmp/b3.txt"

# ---- bad input ----
bad() { # bad DESCRIPTION PATTERN COMMAND...: exit 2 and PATTERN in the output
  local what=$1 pat=$2
  shift 2
  "$@" >"$tmp/bad.txt" 2>&1
  local rc=$?
  check "$what: exit 2 (got $rc)" [ $rc -eq 2 ]
  check "$what: says '$pat'" grep -q -- "$pat" "$tmp/bad.txt" || cat "$tmp/bad.txt" >&2
}
p="$build/crate-probe"
bad "a missing folder" "nowhere: cannot open the labelled text folder" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/nowhere" --text-test "$tmp/F/test"
bad "test classes other than train's" "class 'birds' is in $tmp/F5b/train but not in $tmp/F/test" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/F5b/train" --text-test "$tmp/F/test"
bad "OUT_DIR given instead of OUT_DIR/train" "is a folder, not a class file" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/F" --text-test "$tmp/F/test"
bad "a gpt2 checkpoint given image shards" "is a text model (objective gpt2): probe it with --text-train" \
  "$p" "$tmp/g/ckpt" --train "$tmp/D/train" --test "$tmp/D/test"
pretrain_tiny 1 "$tmp/M" schedule.steps=2 schedule.warmup_steps=1 >/dev/null 2>&1
bad "an MAE checkpoint given texts" "is an image model (objective mae): probe it with --train and --test" \
  "$p" "$tmp/M/ckpt" --text-train "$tmp/F/train" --text-test "$tmp/F/test"
bad "--feature with texts" "--feature (images; texts take --pool) does not apply" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/F/train" --text-test "$tmp/F/test" --feature cls
bad "--pool with images" "--pool (texts; images take --feature) does not apply" \
  "$p" "$tmp/M/ckpt" --train "$tmp/D/train" --test "$tmp/D/test" --pool last
bad "--random-init with images" "--random-init (texts) does not apply" \
  "$p" "$tmp/M/ckpt" --train "$tmp/D/train" --test "$tmp/D/test" --random-init
bad "a bad --pool" "choose mean, first or last" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/F/train" --text-test "$tmp/F/test" --pool max
bad "--text-train without --text-test" "--text-train and --text-test are both needed" \
  "$p" "$tmp/g/ckpt" --text-train "$tmp/F/train"
"$p" --help >"$tmp/help.txt"
check "--help documents the text options" grep -q -- "--text-train DIR, --text-test DIR" "$tmp/help.txt" && \
  grep -q -- "--pool mean|first|last" "$tmp/help.txt" && grep -q -- "--random-init" "$tmp/help.txt" && \
  grep -q -- "--baseline bow" "$tmp/help.txt"
finish
