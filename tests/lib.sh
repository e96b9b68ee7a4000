# lib.sh BUILD_DIR — shared set-up and helpers of crate's shell tests
# (sourced, not run): $build is the build folder, $tmp a scratch folder that
# is removed on exit, $tmp/D the Fashion-MNIST shards.
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# check DESCRIPTION COMMAND...: runs COMMAND, counts a pass or a failure.
passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $what" >&2
  fi
}
# finish: prints the closing line and exits non-zero on any failure.
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
# expect_2 NAME GREP_PATTERN COMMAND...: COMMAND exits 2 (within
# $expect_timeout s, default 120: a hang is a failure) and prints PATTERN.
expect_2() {
  local name=$1 pattern=$2
  shift 2
  timeout -s KILL "${expect_timeout:-120}" "$@" >"$tmp/out.txt" 2>&1
  local rc=$?
  check "$name: exit 2 (got $rc)" [ $rc -eq 2 ]
  check "$name: says \"$pattern\"" grep -q -- "$pattern" "$tmp/out.txt"
  [ $rc -eq 2 ] || sed 's/^/    /' "$tmp/out.txt" | tail -5
}
# manifest_reseal MANIFEST: recomputes the checksum line (src/ckpt/manifest.h)
# of an edited manifest.yaml, so a test reaches the checks behind it — what
# a crafted manifest would have to pass.
manifest_reseal() {
  python3 - "$1" <<'PY'
import sys, zlib
path = sys.argv[1]
text = open(path, 'rb').read()
body = text[:text.rindex(b'manifest_crc32: ')]
open(path, 'wb').write(body + b'manifest_crc32: "%08x"\n' % zlib.crc32(body))
PY
}
# json_field FILE KEY: the KEY values of a JSON-lines file, one per line.
json_field() {
  sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
}
# worst_rel A B FIELD_FN: the largest |a − b| / |a| over the values FIELD_FN
# prints for runs A and B, line by line (3 significant digits).
worst_rel() {
  paste <($3 "$1") <($3 "$2") | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'
}
# check_same_curves REF LABEL NAME FIELD_FN...: run NAME logs what run REF
# does: for every FIELD_FN (losses, val, …) the largest relative difference
# is printed and must be below 1e-4 (float reduction order, DESIGN §5).
check_same_curves() {
  local ref=$1 label=$2 name=$3 fn w line
  shift 3
  line="$label: largest relative difference to $ref:"
  for fn in "$@"; do
    w=$(worst_rel "$ref" "$name" "$fn")
    line="$line $fn $w"
    check "$label: $fn within 1e-4 of $ref" awk -v w="$w" 'BEGIN { exit !(w < 1e-4) }'
  done
  echo "$line"
}
# check_resumed STRAIGHT SPLIT STEP: run $tmp/SPLIT stopped at STEP and
# resumed; its losses and final checkpoint are bitwise those of $tmp/STRAIGHT.
check_resumed() {
  check "resumed from step $3" grep -q "resumed from .*step-$(printf %06d "$3")" "$tmp/$2.txt"
  check "stop_after + resume: losses bitwise equal" \
    cmp -s <(json_field "$tmp/$1/metrics.jsonl" loss) <(json_field "$tmp/$2/metrics.jsonl" loss)
  check "stop_after + resume: final state bitwise equal" \
    [ "$("$build/crate-ckpt" diff "$tmp/$1/ckpt" "$tmp/$2/ckpt" | grep -c "bitwise identical")" -eq 3 ]
}
# train_text CONFIG NAME RANKS [overrides...]: CONFIG on the token data in
# $tmp/T (license_text) under mpirun into run.dir $tmp/NAME, output appended
# to $tmp/NAME.txt. losses/val NAME: its training and validation losses.
train_text() {
  local config=$1 name=$2 ranks=$3
  shift 3
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" "$config" \
    data.train="$tmp/T/train" data.val="$tmp/T/val" run.dir="$tmp/$name" "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
val() { json_field "$tmp/$1/metrics.jsonl" val_loss; }
# license_text DIR [crate-data options]: token shards (train/val, V 512 unless
# given) of Debian's license texts, the text tests' corpus.
license_text() {
  local dir=$1
  shift
  "$build/crate-data" text --spm-train 512 "$@" /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/LGPL-2.1 \
    /usr/share/common-licenses/Apache-2.0 /usr/share/common-licenses/MPL-2.0 /usr/share/common-licenses/Artistic "$dir"
}
mpirun_flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun_flags+=(--allow-run-as-root)
# pretrain_tiny RANKS RUN_DIR [overrides...]: configs/mae-tiny.yaml on the
# test shards under mpirun, one OpenMP thread per rank.
pretrain_tiny() {
  local ranks=$1 dir=$2
  shift 2
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/mae-tiny.yaml \
    data.train="$tmp/D/train" run.dir="$dir" "$@"
}
"$build/crate-data" fashion-mnist "$tmp/D" >/dev/null || { echo "crate-data failed" >&2; exit 1; }
