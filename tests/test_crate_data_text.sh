#!/bin/bash
# test_crate_data_text.sh BUILD_DIR — crate-data's token datasets end to end:
# `kjv` writes train and val with the KJV's chapter counts (1189; every 20th
# to val) and prints the baselines, which `baselines` reproduces; `text`
# with --add-texts adds a labelled text folder to train only; `text`
# trains a tokenizer on license texts, `--spm MODEL` reuses the model the
# first run wrote, `verify` checks token datasets and finds a damaged block;
# and the bad inputs (a corpus too small for the vocabulary, a missing model,
# an empty or non-UTF-8 input, an output in the way, bible not installed,
# bad usage) each exit 2 with a message naming the thing and the fix.
set -u
BUILD_DIR=${1:?usage: test_crate_data_text.sh BUILD_DIR}
TOOL="$BUILD_DIR/crate-data"
LIC=/usr/share/common-licenses
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
# expect_fail DESCRIPTION PATTERN... -- COMMAND...: COMMAND exits 2 and its
# stderr matches every PATTERN (grep -E).
expect_fail() {
    local what=$1
    shift
    local pats=()
    while [ "$1" != "--" ]; do pats+=("$1"); shift; done
    shift
    "$@" >"$TMP/out.txt" 2>"$TMP/err.txt"
    local rc=$?
    if [ $rc -ne 2 ]; then
        bad "$what: exit $rc, expected 2"
        cat "$TMP/err.txt" >&2
        return
    fi
    for p in "${pats[@]}"; do
        if ! grep -Eq -- "$p" "$TMP/err.txt"; then
            bad "$what: message lacks /$p/"
            cat "$TMP/err.txt" >&2
            return
        fi
    done
    ok
}
# field FILE KEY: KEY's value in the JSON line of FILE.
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1" | head -1; }
# verify_field FILE NAME: the first number of the NAME line of verify's summary.
verify_field() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

TMP=$(mktemp -d /tmp/crate-test-text-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# --help and usage.
"$TOOL" --help >"$TMP/help.txt" 2>&1
check "--help exits 0" test $? -eq 0
for s in "crate-data text" "crate-data kjv OUT_DIR" "crate-data baselines DIR" "blank line" "every 20th chapter"; do
    check "--help documents '$s'" grep -q "$s" "$TMP/help.txt"
done
expect_fail "text without a tokenizer" "--spm-train V" -- "$TOOL" text "$LIC/BSD" "$TMP/x"
expect_fail "text with two tokenizers" "one of" -- "$TOOL" text --spm-train 100 --spm m.model "$LIC/BSD" "$TMP/x"
expect_fail "text without inputs" "input" -- "$TOOL" text --spm-train 100 "$TMP/x"
expect_fail "a bad --spm-type" "unigram or bpe" -- "$TOOL" text --spm-train 100 --spm-type word "$LIC/BSD" "$TMP/x"
expect_fail "kjv without OUT_DIR" "OUT_DIR" -- "$TOOL" kjv
expect_fail "kjv with a bad --vocab" "positive integer" -- "$TOOL" kjv "$TMP/x" --vocab many
expect_fail "baselines without DIR" "DIR" -- "$TOOL" baselines

# ---- the King James Bible --------------------------------------------------------
if ! command -v bible >/dev/null; then
    echo "skipping kjv: bible not installed (apt-get install bible-kjv)"
else
    start=$(date +%s%N)
    "$TOOL" kjv "$TMP/kjv" >"$TMP/kjv.txt" 2>&1
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    cat "$TMP/kjv.txt"
    echo "crate-data kjv took $ms ms"
    check "kjv exits 0" test $rc -eq 0
    check "kjv: 1189 chapters of 66 books" grep -q "66 books, 1189 chapters, 31102 verses" "$TMP/kjv.txt"
    check "kjv: every 20th chapter to val" grep -q "every 20th chapter (59) to val" "$TMP/kjv.txt"
    check "kjv: 1130 train chapters" grep -Eq "^train +1130 documents" "$TMP/kjv.txt"
    check "kjv: 59 val chapters" grep -Eq "^val +59 documents \(every 20th\)" "$TMP/kjv.txt"
    check "kjv: a 4096-piece unigram tokenizer" grep -q "unigram, 4096 pieces" "$TMP/kjv.txt"
    check "kjv: baselines printed" grep -q "bigram (add-one)" "$TMP/kjv.txt"
    check "kjv: no partial directories" test ! -e "$TMP/kjv/train.partial" -a ! -e "$TMP/kjv/val.partial"
    for split in train val; do
        check "kjv: $split holds tokenizer and meta" test -s "$TMP/kjv/$split/tokenizer.model" -a \
            -s "$TMP/kjv/$split/tokens.meta"
    done
    check "kjv: train and val share the tokenizer" cmp -s "$TMP/kjv/train/tokenizer.model" \
        "$TMP/kjv/val/tokenizer.model"
    grep '^{"baselines"' "$TMP/kjv.txt" >"$TMP/kjv.json"
    uni=$(field "$TMP/kjv.json" unigram_bpb)
    bi=$(field "$TMP/kjv.json" bigram_bpb)
    check "kjv: bits/byte plausible (bigram $bi < unigram $uni, both in 1.5..2.5)" \
        awk -v u="$uni" -v b="$bi" 'BEGIN { exit !(b < u && b > 1.5 && u < 2.5) }'
    # baselines DIR reproduces the numbers.
    "$TOOL" baselines "$TMP/kjv" >"$TMP/base.txt" 2>&1
    check "baselines exits 0" test $? -eq 0
    check "baselines repeats kjv's JSON line" cmp -s "$TMP/kjv.json" <(grep '^{"baselines"' "$TMP/base.txt")
    # verify reads a token dataset.
    "$TOOL" verify "$TMP/kjv/val" >"$TMP/verify.txt" 2>&1
    check "verify of val exits 0" test $? -eq 0
    check "verify: val has 59 documents" test "$(verify_field "$TMP/verify.txt" documents)" = 59
    "$TOOL" verify "$TMP/kjv/train" >"$TMP/verify.txt" 2>&1
    check "verify: train has 1130 documents" test "$(verify_field "$TMP/verify.txt" documents)" = 1130
    # --add-texts: a labelled text folder's texts join train only; val stays the same chapters.
    "$TOOL" fortunes "$TMP/fx" --source "$(dirname "$0")/fixtures/fortunes" --classes 3 >/dev/null 2>&1
    n=$(grep -c '^%$' "$TMP"/fx/train/* | awk -F: '{ s += $2 } END { print s }')
    "$TOOL" kjv "$TMP/kjvx" --add-texts "$TMP/fx/train" >"$TMP/kjvx.txt" 2>&1
    check "kjv --add-texts exits 0" test $? -eq 0
    check "kjv --add-texts: $n texts added" grep -q -- "--add-texts $TMP/fx/train: $n texts of 3 classes added to train" \
        "$TMP/kjvx.txt"
    check "kjv --add-texts: 1130 + $n train documents" grep -Eq "^train +$((1130 + n)) documents" "$TMP/kjvx.txt"
    check "kjv --add-texts: the same 59 val chapters" grep -Eq "^val +59 documents" "$TMP/kjvx.txt"
    expect_fail "kjv --add-texts of no folder" "$TMP/none" -- "$TOOL" kjv "$TMP/kjvy" --add-texts "$TMP/none"
    # bible missing: the shell cannot find it on this PATH.
    expect_fail "kjv without bible" "install bible-kjv" -- env PATH=/nonexistent "$TOOL" kjv "$TMP/nobible"
    check "kjv without bible wrote nothing" test ! -e "$TMP/nobible/train"
fi

# ---- text files -----------------------------------------------------------------------
paragraphs() { awk 'BEGIN { RS = "" } END { print NR }' "$1"; } # blank-line separated, as crate-data counts
docs=$(($(paragraphs "$LIC/GPL-3") + $(paragraphs "$LIC/Apache-2.0") + $(paragraphs "$LIC/MPL-2.0")))
"$TOOL" text --spm-train 600 "$LIC/GPL-3" "$LIC/Apache-2.0" "$LIC/MPL-2.0" "$TMP/lic" >"$TMP/text.txt" 2>&1
check "text --spm-train exits 0" test $? -eq 0
cat "$TMP/text.txt"
check "text: $docs paragraphs" grep -q "^text: $docs documents (paragraphs) in 3 files" "$TMP/text.txt"
val=$((docs / 20))
check "text: $val val documents" grep -Eq "^val +$val documents" "$TMP/text.txt"
check "text: $((docs - val)) train documents" grep -Eq "^train +$((docs - val)) documents" "$TMP/text.txt"
check "text: bytes/token printed" grep -q "bytes/token" "$TMP/text.txt"
check "text: baselines printed" grep -q '^{"baselines"' "$TMP/text.txt"
# --val-every, and a bpe tokenizer.
"$TOOL" text --spm-train 400 --spm-type bpe --val-every 3 "$LIC/Apache-2.0" "$TMP/bpe" >"$TMP/bpe.txt" 2>&1
check "text --spm-type bpe exits 0" test $? -eq 0
adocs=$(paragraphs "$LIC/Apache-2.0")
check "--val-every 3: $((adocs / 3)) val documents" grep -Eq "^val +$((adocs / 3)) documents \(every 3rd\)" \
    "$TMP/bpe.txt"
# --spm MODEL: the model the first run wrote, on other texts.
"$TOOL" text --spm "$TMP/lic/train/tokenizer.model" "$LIC/GPL-2" "$LIC/LGPL-3" "$TMP/reuse" >"$TMP/reuse.txt" 2>&1
check "text --spm exits 0" test $? -eq 0
check "--spm: the model is used as given" cmp -s "$TMP/lic/train/tokenizer.model" "$TMP/reuse/val/tokenizer.model"
check "--spm: 600 pieces" grep -q "(600 pieces), loaded" "$TMP/reuse.txt"
# Re-running replaces the datasets.
"$TOOL" text --spm "$TMP/lic/train/tokenizer.model" "$LIC/GPL-2" "$TMP/reuse" >"$TMP/rerun.txt" 2>&1
check "a re-run replaces the datasets" test $? -eq 0
# verify finds a damaged block (the middle of the first block of train).
SHARD="$TMP/lic/train/shard-00000.crs"
u() { od -An -t "u$1" -j "$2" -N "$1" "$SHARD" | tr -d ' '; }
index_offset=$(u 8 48)
block_offset=$(u 8 "$index_offset")
block_bytes=$(u 4 $((index_offset + 8)))
pos=$((block_offset + block_bytes / 2))
byte=$(u 1 "$pos")
printf "$(printf '\\%03o' $((byte ^ 255)))" | dd of="$SHARD" bs=1 seek="$pos" conv=notrunc status=none
expect_fail "verify of a damaged token dataset" "shard-00000.crs: block 0" "re-create" -- \
    "$TOOL" verify "$TMP/lic/train"

# ---- bad inputs -----------------------------------------------------------------------------
expect_fail "a corpus too small for the vocabulary" "Vocabulary size too high" "smaller --spm-train V" "BSD" -- \
    "$TOOL" text --spm-train 8000 "$LIC/BSD" "$LIC/Apache-2.0" "$TMP/small"
check "too small: nothing written" test ! -e "$TMP/small/train" -a ! -e "$TMP/small/train.partial"
expect_fail "a missing --spm model" "nope.model" "no such model file" "--spm-train" -- \
    "$TOOL" text --spm "$TMP/nope.model" "$LIC/GPL-3" "$TMP/nomodel"
printf 'not a model\n' >"$TMP/junk.model"
expect_fail "a junk --spm model" "junk.model" "SentencePiece model" -- \
    "$TOOL" text --spm "$TMP/junk.model" "$LIC/GPL-3" "$TMP/nomodel"
: >"$TMP/empty.txt"
expect_fail "an empty input" "empty.txt" "no text" -- "$TOOL" text --spm-train 100 "$LIC/BSD" "$TMP/empty.txt" "$TMP/e"
printf '\n  \n\t\n' >"$TMP/blank.txt"
expect_fail "a blank input" "blank.txt" "no text" -- "$TOOL" text --spm-train 100 "$TMP/blank.txt" "$TMP/e"
expect_fail "a missing input" "missing.txt" -- "$TOOL" text --spm-train 100 "$TMP/missing.txt" "$TMP/e"
printf 'caf\xe9 latin-1\n' >"$TMP/latin1.txt"
expect_fail "a non-UTF-8 input" "latin1.txt" "line 1" "UTF-8" -- "$TOOL" text --spm-train 100 "$TMP/latin1.txt" "$TMP/e"
expect_fail "too few documents for val" "only 3 documents" "--val-every" -- \
    "$TOOL" text --spm-train 100 "$LIC/BSD" "$TMP/few"
mkdir -p "$TMP/busy/train"
echo mine >"$TMP/busy/train/notes.txt"
expect_fail "an OUT_DIR holding something else" "busy/train" "notes.txt" "remove it or choose another" -- \
    "$TOOL" text --spm-train 100 "$LIC/GPL-3" "$TMP/busy"
check "the foreign file is kept" test -f "$TMP/busy/train/notes.txt"
check "nothing written beside it" test ! -e "$TMP/busy/val" -a ! -e "$TMP/busy/train.partial"
mkdir -p "$TMP/imgout/val"
cp "$TMP/lic/val/shard-00000.crs" "$TMP/imgout/val/" # shards without tokens.meta (an image dataset, say)
expect_fail "an OUT_DIR/val that is not a token dataset" "imgout/val" "tokens.meta" -- \
    "$TOOL" text --spm-train 100 "$LIC/GPL-3" "$TMP/imgout"
echo file >"$TMP/afile"
expect_fail "an OUT_DIR that is a file" "afile" "not a directory" -- \
    "$TOOL" text --spm-train 100 "$LIC/GPL-3" "$TMP/afile"
expect_fail "baselines of a folder without val" "val" "crate-data" -- "$TOOL" baselines "$TMP/busy"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
