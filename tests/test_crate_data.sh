#!/bin/bash
# test_crate_data.sh BUILD_DIR — crate-data end to end: converts the installed
# Fashion-MNIST, verifies both splits and their counts, detects a damaged
# block, and checks --help and the exit statuses of bad usage.
set -u
BUILD_DIR=${1:?usage: test_crate_data.sh BUILD_DIR}
TOOL="$BUILD_DIR/crate-data"
SOURCE=/usr/share/datasets/fashion-mnist
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}

TMP=$(mktemp -d /tmp/crate-test-data-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# --help and usage errors.
"$TOOL" --help >"$TMP/help.txt" 2>&1
check "--help exits 0" test $? -eq 0
check "--help documents fashion-mnist" grep -q "crate-data fashion-mnist OUT_DIR" "$TMP/help.txt"
check "--help documents verify" grep -q "crate-data verify PATH" "$TMP/help.txt"
check "--help documents --records-per-shard" grep -q -- "--records-per-shard" "$TMP/help.txt"
"$TOOL" >/dev/null 2>&1
check "no arguments exits 2" test $? -eq 2
"$TOOL" frobnicate >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
"$TOOL" fashion-mnist >/dev/null 2>&1
check "missing OUT_DIR exits 2" test $? -eq 2
"$TOOL" fashion-mnist "$TMP/x" --records-per-block zero >/dev/null 2>&1
check "bad number exits 2" test $? -eq 2
"$TOOL" fashion-mnist "$TMP/x" --bogus >/dev/null 2>&1
check "unknown option exits 2" test $? -eq 2
"$TOOL" verify "$TMP/does-not-exist" >/dev/null 2>"$TMP/err.txt"
check "verify of a missing path exits 2" test $? -eq 2
check "missing path is named" grep -q "does-not-exist" "$TMP/err.txt"
"$TOOL" fashion-mnist "$TMP/nosrc" --source "$TMP/empty-source" >/dev/null 2>"$TMP/err.txt"
check "missing source exits 2" test $? -eq 2
check "missing source names the package" grep -q "apt-get install dataset-fashion-mnist" "$TMP/err.txt"

if [ ! -f "$SOURCE/train-images-idx3-ubyte.gz" ]; then
    echo "skipping conversion: $SOURCE not installed (apt-get install dataset-fashion-mnist)"
else
    # Conversion.
    "$TOOL" fashion-mnist "$TMP/fm" >"$TMP/convert.txt" 2>&1
    check "fashion-mnist exits 0" test $? -eq 0
    cat "$TMP/convert.txt"
    check "reports train records" grep -q "^train: 60000 records, 4 shards" "$TMP/convert.txt"
    check "reports test records" grep -q "^test: 10000 records, 1 shards" "$TMP/convert.txt"
    check "no partial directories left" test ! -e "$TMP/fm/train.partial" -a ! -e "$TMP/fm/test.partial"
    check "4 train shards" test "$(ls "$TMP/fm/train" | wc -l)" -eq 4

    # Verification and counts.
    "$TOOL" verify "$TMP/fm/train" >"$TMP/verify.txt" 2>&1
    check "verify train exits 0" test $? -eq 0
    cat "$TMP/verify.txt"
    check "train records 60000" grep -Eq "^  records +60000$" "$TMP/verify.txt"
    check "train shape" grep -q "1x28x28" "$TMP/verify.txt"
    check "train has 10 classes" grep -q "10 distinct in 0..9" "$TMP/verify.txt"
    check "train classes balanced" grep -q " 0:6000 1:6000 2:6000 3:6000 4:6000 5:6000 6:6000 7:6000 8:6000 9:6000" \
        "$TMP/verify.txt"
    "$TOOL" verify "$TMP/fm/test" >"$TMP/verify-test.txt" 2>&1
    check "verify test exits 0" test $? -eq 0
    check "test records 10000" grep -Eq "^  records +10000$" "$TMP/verify-test.txt"
    check "test classes balanced" grep -q " 0:1000 1:1000" "$TMP/verify-test.txt"
    "$TOOL" verify "$TMP/fm/test/shard-00000.crs" >/dev/null 2>&1
    check "verify of one shard file exits 0" test $? -eq 0

    # Options: smaller shards and blocks; re-running replaces the splits.
    "$TOOL" fashion-mnist "$TMP/fm" --records-per-shard 25000 --records-per-block 100 >"$TMP/convert2.txt" 2>&1
    check "re-run with options exits 0" test $? -eq 0
    check "re-run: 3 train shards" grep -q "^train: 60000 records, 3 shards, 600 blocks" "$TMP/convert2.txt"
    check "re-run replaced the old shards" test "$(ls "$TMP/fm/train" | wc -l)" -eq 3

    # A damaged block: verify exits 2 naming the file and the block.
    SHARD="$TMP/fm/test/shard-00000.crs"
    u() { od -An -t "u$1" -j "$2" -N "$1" "$SHARD" | tr -d ' '; } # u BYTES OFFSET: a field (od reads host order: little-endian here, as the format)
    index_offset=$(u 8 48)
    block_offset=$(u 8 $((index_offset + 24 * 7)))
    block_bytes=$(u 4 $((index_offset + 24 * 7 + 8)))
    pos=$((block_offset + block_bytes / 2))
    byte=$(u 1 "$pos")
    printf "$(printf '\\%03o' $((byte ^ 255)))" | dd of="$SHARD" bs=1 seek="$pos" conv=notrunc status=none
    check "the byte was flipped" test "$(u 1 "$pos")" -eq $((byte ^ 255))
    "$TOOL" verify "$TMP/fm/test" >/dev/null 2>"$TMP/damaged.txt"
    check "verify of a damaged dataset exits 2" test $? -eq 2
    cat "$TMP/damaged.txt"
    check "damage names file and block" grep -q "shard-00000.crs: block 7" "$TMP/damaged.txt"
    check "damage names the fix" grep -q "re-create it with crate-data" "$TMP/damaged.txt"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
