# test_install.sh BUILD_DIR — `cmake --install` of the tested build into a
# scratch prefix: the users' tools go to bin/ (the tests' helpers do not),
# configs and launch scripts to share/crate/, the README to share/doc/crate/;
# then, from a folder with no configs/, the installed tools make Fashion-MNIST
# shards and train mae-tiny found by name in the install's share/crate/configs
# (the build's own crate-pretrain finds the source tree's configs/), and a
# name found nowhere exits 2 naming both folders looked in.
set -u
. "$(dirname "$0")/lib.sh" "$1"
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd) # the tests below leave the current folder

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.txt" 2>&1
check "cmake --install exits 0" [ $? -eq 0 ]
share=$(realpath "$prefix")/share/crate

# The tools are the crate_*.c of pretrain/ and data/; those of tests/ stay in the build.
expected=$(for f in "$src"/pretrain/crate_*.c "$src"/data/crate_*.c; do
  basename "$f" .c | tr _ -
done | sort)
check "bin/ holds exactly the tools ($(echo $expected))" [ "$(ls "$prefix/bin" | sort)" = "$expected" ]
for tool in $expected; do
  check "bin/$tool is executable" [ -x "$prefix/bin/$tool" ]
done
for f in "$src"/tests/crate_*.c; do
  helper=$(basename "$f" .c | tr _ -)
  check "test helper $helper is built" [ -x "$build/$helper" ]
  check "test helper $helper is not installed" [ ! -e "$prefix/bin/$helper" ]
done
for f in "$src"/configs/*.yaml; do
  check "share/crate/configs/$(basename "$f") installed" cmp -s "$f" "$share/configs/$(basename "$f")"
done
for f in "$src"/launch/*.sh "$src"/launch/crate.sbatch; do
  check "share/crate/launch/$(basename "$f") installed" cmp -s "$f" "$share/launch/$(basename "$f")"
  check "share/crate/launch/$(basename "$f") executable" [ -x "$share/launch/$(basename "$f")" ]
done
check "share/crate/launch/SCALING.md installed" cmp -s "$src/launch/SCALING.md" "$share/launch/SCALING.md"
check "share/doc/crate/README.md installed" cmp -s "$src/README.md" "$prefix/share/doc/crate/README.md"

"$prefix/bin/crate-pretrain" --help >"$tmp/help.txt" 2>&1
check "installed crate-pretrain --help exits 0" [ $? -eq 0 ]
check "--help prints the usage" grep -q "usage: crate-pretrain" "$tmp/help.txt"
check "--help documents the keys" grep -q "schedule.steps" "$tmp/help.txt"

# Everything below runs where a bare config name cannot be a file of cwd.
mkdir "$tmp/work" && cd "$tmp/work" || exit 1
"$prefix/bin/crate-data" fashion-mnist "$tmp/F" >"$tmp/data.txt" 2>&1
check "installed crate-data fashion-mnist exits 0" [ $? -eq 0 ]
check "installed crate-data verify" "$prefix/bin/crate-data" verify "$tmp/F/train" >/dev/null

"$prefix/bin/crate-pretrain" mae-tiny.yaml data.train="$tmp/F/train" run.dir="$tmp/run" schedule.steps=5 \
  schedule.warmup_steps=2 >"$tmp/train.txt" 2>&1
status=$?
check "installed crate-pretrain mae-tiny.yaml exits 0 (got $status)" [ $status -eq 0 ]
[ $status -eq 0 ] || sed 's/^/    /' "$tmp/train.txt"
check "config resolved from the install" grep -qF "# resolved config ($share/configs/mae-tiny.yaml)" "$tmp/train.txt"
check "progress lines printed" grep -q "step 5/5 | loss" "$tmp/train.txt"
check "metrics.jsonl has 5 lines" [ "$(json_field "$tmp/run/metrics.jsonl" loss | wc -l)" -eq 5 ]
check "final checkpoint step-000005 verifies" "$prefix/bin/crate-ckpt" verify "$tmp/run/ckpt/step-000005"

# The same config by its installed path (the issue's form).
"$prefix/bin/crate-pretrain" "$share/configs/mae-tiny.yaml" data.train="$tmp/F/train" run.dir="$tmp/run-path" \
  schedule.steps=2 schedule.warmup_steps=1 >"$tmp/path.txt" 2>&1
check "installed crate-pretrain PREFIX/share/crate/configs/mae-tiny.yaml exits 0" [ $? -eq 0 ]
check "... and trains" grep -q "step 2/2 | loss" "$tmp/path.txt"

# The build's own tools find the source tree's configs (the install is not theirs).
"$build/crate-pretrain" mae-tiny data.train="$tmp/F/train" run.dir="$tmp/run-build" schedule.steps=2 \
  schedule.warmup_steps=1 >"$tmp/build.txt" 2>&1
check "build-tree crate-pretrain mae-tiny exits 0" [ $? -eq 0 ]
check "build-tree config resolved from the source tree" \
  grep -qF "# resolved config ($src/configs/mae-tiny.yaml)" "$tmp/build.txt"

# crate-views resolves the same way, here a name without .yaml.
"$prefix/bin/crate-views" dino-tiny data.train="$tmp/F/train" --images 2 --out "$tmp/views.png" >"$tmp/views.txt" 2>&1
check "installed crate-views dino-tiny exits 0" [ $? -eq 0 ]
check "crate-views wrote its sheet" [ -s "$tmp/views.png" ]

# A name that is nowhere: exit 2, and the message names what was typed and both folders.
for tool in crate-pretrain crate-views; do
  "$prefix/bin/$tool" no-such-config data.train="$tmp/F/train" run.dir="$tmp/run-none" >"$tmp/none.out" 2>"$tmp/none.err"
  status=$?
  check "$tool no-such-config: exit status 2 (got $status)" [ $status -eq 2 ]
  check "$tool no-such-config: names the name" grep -qF "no-such-config" "$tmp/none.err"
  check "$tool no-such-config: names the installed configs" grep -qF "$share/configs" "$tmp/none.err"
  check "$tool no-such-config: names the source configs" grep -qF "$src/configs" "$tmp/none.err"
  check "$tool no-such-config: no run output" [ ! -e "$tmp/run-none" ]
  sed 's/^/    /' "$tmp/none.err"
done
finish
