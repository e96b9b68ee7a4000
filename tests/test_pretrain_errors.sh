# test_pretrain_errors.sh BUILD_DIR — bad input to crate-pretrain: each case
# exits 2 with a message naming the file, line and key, and writes no output
# that could be taken for a valid run.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# expect_error NAME EXPECTED_SUBSTRING... -- ARGS: exit 2, every substring in stderr, no run output.
expect_error() {
  local name=$1
  shift
  local want=()
  while [ "$1" != "--" ]; do want+=("$1"); shift; done
  shift
  "$build/crate-pretrain" "$@" run.dir="$tmp/run-$name" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local status=$?
  check "$name: exit status 2 (got $status)" [ $status -eq 2 ]
  for w in "${want[@]}"; do
    check "$name: message names '$w'" grep -qF -- "$w" "$tmp/$name.err"
  done
  check "$name: no metrics or checkpoint written" [ ! -e "$tmp/run-$name/metrics.jsonl" ] && [ ! -e "$tmp/run-$name/ckpt" ]
  sed 's/^/    /' "$tmp/$name.err"
}

printf 'model:\n  dim: 32\n  dimm: 4\ndata:\n  train: %s\n' "$tmp/D/train" >"$tmp/unknown.yaml"
expect_error unknown_key "unknown.yaml:3:3" "model.dimm" -- "$tmp/unknown.yaml"

printf 'model:\n  depth: six\ndata:\n  train: %s\n' "$tmp/D/train" >"$tmp/type.yaml"
expect_error wrong_type "type.yaml:2:10" "model.depth" "integer" -- "$tmp/type.yaml"

printf 'data:\n  train: %s/nowhere\n' "$tmp" >"$tmp/nodata.yaml"
expect_error missing_data "nodata.yaml:2:10" "data.train" "nowhere" -- "$tmp/nodata.yaml"

printf 'schedule:\n  global_batch: 0\ndata:\n  train: %s\n' "$tmp/D/train" >"$tmp/range.yaml"
expect_error out_of_range "range.yaml:2:17" "schedule.global_batch" -- "$tmp/range.yaml"

expect_error micro_batch "command line" "schedule.micro_batch" "does not divide" -- configs/mae-tiny.yaml \
  data.train="$tmp/D/train" schedule.micro_batch=5

expect_error missing_config "cannot read config" "$tmp/absent.yaml" -- "$tmp/absent.yaml"
expect_error bad_override "command line" "model.nope" -- configs/mae-tiny.yaml data.train="$tmp/D/train" model.nope=1

"$build/crate-pretrain" --help >"$tmp/help.txt"
check "--help exits 0" [ $? -eq 0 ]
for key in dist.zero schedule.micro_batch model.dim model.lambda mae.encoder_input data.train schedule.global_batch log.every run.dir; do
  check "--help documents $key" grep -q "$key" "$tmp/help.txt"
done
finish
