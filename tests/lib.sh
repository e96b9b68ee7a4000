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
# json_field FILE KEY: the KEY values of a JSON-lines file, one per line.
json_field() {
  sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
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
