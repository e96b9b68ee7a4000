# lib.sh — shared helpers of crate's shell tests (sourced, not run).
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
# fashion_mnist_shards DIR: converts Fashion-MNIST into DIR once per test run.
fashion_mnist_shards() {
  [ -d "$1/train" ] || "$build/crate-data" fashion-mnist "$1" >/dev/null
}
# json_field FILE KEY: the KEY values of a JSON-lines file, one per line.
json_field() {
  sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
}
mpirun_flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun_flags+=(--allow-run-as-root)
