# test_checkpoint_files.sh BUILD_DIR — files attached to checkpoints
# (src/ckpt/files.h) through the real trainer, with the toy objective of
# tests/crate_toy_pretrain.c, which attaches toy.bin (5000 bytes) to every
# save as a text objective attaches its tokenizer.model:
#  1. every checkpoint holds it and its manifest lists it; crate-ckpt info
#     lists it, verify checks it, extract returns it byte-identical (to a file
#     and to stdout); asking a checkpoint without that file (the v1 fixture,
#     or another name) says what it has;
#  2. a flipped byte, a missing file, a truncated one: crate-ckpt verify fails
#     naming the file, and resume skips that checkpoint (kept aside as
#     .damaged) for the previous one, then logs the losses of an uninterrupted
#     run (2 ranks, bitwise);
#  3. an untrusted manifest: a huge size within the cap is compared with the
#     real file's before anything is allocated (checked under a memory limit
#     in builds without sanitizers) and resume falls back; one beyond the cap,
#     and a name with a path in it, are refused by the parser;
#  4. a name the objective must not use (a shard's, a path) fails the save,
#     naming the rule, and commits nothing.
set -u
. "$(dirname "$0")/lib.sh" "$1"

toy() { # toy NAME RANKS [--file-name N] [overrides...]: output appended to $tmp/NAME.txt
  local name=$1 ranks=$2
  shift 2
  local opts=()
  [ "${1:-}" = --file-name ] && { opts=("$1" "$2"); shift 2; }
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-toy-pretrain" "${opts[@]}" \
    tests/fixtures/toy.yaml run.dir="$tmp/$name" checkpoint.every=10 "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
ckpt() { "$build/crate-ckpt" "$@"; }
sanitized() { grep -q "CRATE_SANITIZE:BOOL=ON" "$build/CMakeCache.txt"; }
# The bytes the toy attaches, as tests/crate_toy_pretrain.c defines them, one hex byte a line.
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "%02x\n", (131 * i + 17 * int(i / 256)) % 256 }' >"$tmp/expected.hex"
hex() { od -An -v -tx1 "$1" | tr -s ' ' '\n' | grep .; }
is_toy_bin() { cmp -s <(hex "$1") "$tmp/expected.hex"; }

# 1. Attached to every checkpoint, listed, verified, extracted.
toy ref 2
check "ref: exit 0" [ $? -eq 0 ]
for step in 10 20 30; do
  dir="$tmp/ref/ckpt/step-0000$step"
  check "step $step: holds toy.bin with the toy's bytes" is_toy_bin "$dir/toy.bin"
  check "step $step: its manifest lists toy.bin" grep -q "^- {name: toy.bin, bytes: 5000, crc32: \"[0-9a-f]\{8\}\"}" "$dir/manifest.yaml"
done
ckpt info "$tmp/ref/ckpt" >"$tmp/info.txt" 2>&1
check "info lists the file with its size and crc" grep -q "^  file toy.bin  5000 bytes  crc32 [0-9a-f]\{8\}$" "$tmp/info.txt"
ckpt verify "$tmp/ref/ckpt" >"$tmp/verify.txt" 2>&1
check "verify checks it" grep -q "ok: step 30, 2 shards of 5 sections verified; 1 attached file verified (toy.bin)" "$tmp/verify.txt"
ckpt extract "$tmp/ref/ckpt" toy.bin "$tmp/out.bin" 2>"$tmp/extract.txt"
check "extract: exit 0" [ $? -eq 0 ]
check "extract: byte-identical to what the objective attached" is_toy_bin "$tmp/out.bin"
check "extract: says what it wrote" grep -q "wrote toy.bin (5000 bytes, verified) to $tmp/out.bin" "$tmp/extract.txt"
ckpt extract "$tmp/ref/ckpt/step-000010" toy.bin - >"$tmp/stdout.bin"
check "extract to stdout: byte-identical" is_toy_bin "$tmp/stdout.bin"
ckpt extract "$tmp/ref/ckpt" tokenizer.model "$tmp/tok" 2>"$tmp/noname.txt"
check "a file the checkpoint lacks: exit 2" [ $? -eq 2 ]
check "... naming what it has" grep -q "has no file tokenizer.model (it has toy.bin;" "$tmp/noname.txt"
check "... writing nothing" [ ! -e "$tmp/tok" ]
ckpt extract tests/fixtures/ckpt-v1/step-000004 tokenizer.model "$tmp/tok" 2>"$tmp/v1.txt"
check "a version-1 checkpoint has no files (exit 2)" [ $? -eq 2 ]
check "... and says so" grep -q "has no file tokenizer.model (it has none; .*without a tokenizer?)" "$tmp/v1.txt"
ckpt info tests/fixtures/ckpt-v1/step-000004 >"$tmp/v1info.txt" 2>&1
check "info of a version-1 checkpoint: no attached files" grep -q "attached files: 0 (none)" "$tmp/v1info.txt"

# 2. Damage to the attached file of the newest checkpoint (step 20; 10 is kept).
toy base 2 run.stop_after=20
check "base: stopped at step 20 (exit 0)" [ $? -eq 0 ]
# damaged NAME HOW WHY: copies base, damages step-000020/toy.bin by HOW, then
# expects verify and resume to name WHY.
damaged() {
  local name=$1 how=$2 why=$3
  cp -r "$tmp/base" "$tmp/$name"
  : >"$tmp/$name.txt"
  local dir="$tmp/$name/ckpt/step-000020"
  eval "$how"
  ckpt verify "$dir" >"$tmp/$name.verify" 2>&1
  check "$name: verify fails (exit 2)" [ $? -eq 2 ]
  check "$name: verify names the file and why" grep -q "toy.bin' $why" "$tmp/$name.verify"
  toy "$name" 2
  check "$name: resume exits 0" [ $? -eq 0 ]
  check "$name: skipped step-000020 naming the file" grep -q "skipping checkpoint .*step-000020: .*toy.bin' $why" "$tmp/$name.txt"
  check "$name: the damaged checkpoint is kept aside" [ -f "$tmp/$name/ckpt/step-000020.damaged/manifest.yaml" ]
  check "$name: resumed from step 10" grep -q "resumed from .*step-000010 (step 10" "$tmp/$name.txt"
  check "$name: losses equal the uninterrupted run" cmp -s <(losses ref) <(losses "$name")
  check "$name: the new step-000030 verifies" ckpt verify "$tmp/$name/ckpt/step-000030" >/dev/null
  grep -h "skipping\|resumed" "$tmp/$name.txt" | sed 's/^/    /'
}
damaged flipped 'printf "\\$(printf %03o $((0x$(sed -n 1001p "$tmp/expected.hex") ^ 1)))" |
  dd of="$dir/toy.bin" bs=1 seek=1000 conv=notrunc status=none' "is damaged: crc32 [0-9a-f]*, the manifest says"
damaged missing 'rm "$dir/toy.bin"' "is missing (the manifest lists it)"
damaged truncated 'truncate -s 4000 "$dir/toy.bin"' "has 4000 bytes, the manifest says 5000"

# 3. An untrusted manifest.
# (each edit resealed: manifest_reseal, the checksum a crafted manifest would carry)
set_bytes() {
  sed -i "s/{name: toy.bin, bytes: [0-9]*,/{name: toy.bin, bytes: $2,/" "$1/manifest.yaml" && manifest_reseal "$1/manifest.yaml"
}
cp -r "$tmp/ref/ckpt/step-000030" "$tmp/huge"
set_bytes "$tmp/huge" 200000000
# 150 MB of address space: enough for the tool, not for the 200 MB it claims.
if sanitized; then limit=unlimited; else limit=150000; fi
(ulimit -v "$limit"; ckpt extract "$tmp/huge" toy.bin "$tmp/huge.bin") 2>"$tmp/huge.txt"
check "a huge size within the cap: extract exits 2, not an allocation failure" [ $? -eq 2 ]
check "... comparing it with the real size first" grep -q "toy.bin' has 5000 bytes, the manifest says 200000000" "$tmp/huge.txt"
(ulimit -v "$limit"; ckpt verify "$tmp/huge") 2>"$tmp/huge_verify.txt"
check "... and verify exits 2 the same way" grep -q "toy.bin' has 5000 bytes, the manifest says 200000000" "$tmp/huge_verify.txt"
cp -r "$tmp/base" "$tmp/huge_resume"
: >"$tmp/huge_resume.txt"
set_bytes "$tmp/huge_resume/ckpt/step-000020" 200000000
toy huge_resume 2
check "a huge size: resume skips the checkpoint" grep -q "skipping checkpoint .*step-000020: .*toy.bin' has 5000 bytes, the manifest says 200000000" "$tmp/huge_resume.txt"
check "... and resumes from step 10 with the same losses" cmp -s <(losses ref) <(losses huge_resume)
set_bytes "$tmp/huge" 1000000000000
ckpt verify "$tmp/huge" 2>"$tmp/beyond.txt"
check "a size beyond the cap: refused by the parser (exit 2)" [ $? -eq 2 ]
check "... saying so" grep -q "attached file 'toy.bin' claims 1000000000000 bytes (at most 256 MiB)" "$tmp/beyond.txt"
cp -r "$tmp/ref/ckpt/step-000030" "$tmp/path"
sed -i "s/{name: toy.bin,/{name: ..\/..\/toy.bin,/" "$tmp/path/manifest.yaml"
manifest_reseal "$tmp/path/manifest.yaml"
ckpt extract "$tmp/path" ../../toy.bin "$tmp/path.bin" 2>"$tmp/path.txt"
check "a name with a path in the manifest: refused (exit 2)" [ $? -eq 2 ]
check "... naming the rule" grep -q "attached file name '../../toy.bin' is not allowed: .*no '/')" "$tmp/path.txt"

# 4. Names an objective must not give.
k=0
for bad in shard-00000-of-00001.lz4 manifest.yaml ../up.bin .hidden; do
  k=$((k + 1))
  toy "bad_$k" 1 --file-name "$bad" schedule.steps=3
  status=$?
  check "attaching '$bad': the run fails (exit $status)" [ "$status" -ne 0 ]
  check "... naming the file and the rule" grep -q "checkpoint at step 3 failed: cannot attach '$bad' to a checkpoint: " "$tmp/bad_$k.txt"
  check "... committing nothing" [ ! -e "$tmp/bad_$k/ckpt/latest" ]
done
grep -h "cannot attach" "$tmp"/bad_*.txt | sort -u | sed 's/^/    /'
toy renamed 1 --file-name tokenizer.model schedule.steps=3
ckpt extract "$tmp/renamed/ckpt" tokenizer.model "$tmp/renamed.bin" 2>/dev/null
check "a plain name other than toy.bin works the same" is_toy_bin "$tmp/renamed.bin"
finish
