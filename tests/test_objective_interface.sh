# test_objective_interface.sh BUILD_DIR — the objective interface v2
# (pretrain/objective.h) through the real trainer, with the toy objective of
# tests/crate_toy_pretrain.c (samples score 1-3 elements each, a teacher
# store, a buffer):
#  (i)   micro-batches and ranks that score different counts: the same loss
#        at every step and the same final state for micro_batch 1/2/4/8 on
#        1 rank and 1, 2, 4 ranks (1e-6);
#  (ii)  two backward passes per micro-batch equal one over the whole, on 1
#        and 2 ranks with overlapped buckets; arming before the first pass is
#        caught in checking builds (sanitizers), and changes the result in
#        release builds (so the rule matters);
#  (iii) teacher and buffer are saved, verified by crate-ckpt, resumed
#        bitwise on the same rank count and on another one (2 → 1, 2 → 4);
#        the objective's attached file (toy.bin) is in every checkpoint
#        (tests/test_checkpoint_files.sh tests it in depth).
set -u
. "$(dirname "$0")/lib.sh" "$1"

toy() { # toy NAME RANKS [options and overrides...]
  local name=$1 ranks=$2
  shift 2
  local opts=()
  while [ $# -gt 0 ] && case $1 in --*) true ;; *) false ;; esac; do
    opts+=("$1"); [ "$1" = --passes ] && { opts+=("$2"); shift; }; shift
  done
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-toy-pretrain" "${opts[@]}" \
    tests/fixtures/toy.yaml run.dir="$tmp/$name" "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
worst_rel() {
  paste <(losses "$1") <(losses "$2") | awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'
}
# agree REF NAME TOL: 30 losses within TOL of REF's, and every section of the final checkpoints.
agree() {
  local ref=$1 name=$2 tol=$3
  check "$name: 30 losses" [ "$(losses "$name" | wc -l)" -eq 30 ]
  local w; w=$(worst_rel "$ref" "$name")
  echo "$name: largest relative loss difference to $ref: $w"
  check "$name: losses agree with $ref to $tol" awk -v w="$w" -v t="$tol" 'BEGIN { exit !(w <= t) }'
  "$build/crate-ckpt" diff "$tmp/$ref/ckpt" "$tmp/$name/ckpt" >"$tmp/$name.diff" 2>&1
  local worst_section
  worst_section=$(grep -o '_max_abs":[^,}]*' "$tmp/$name.diff" | cut -d: -f2 | sort -g | tail -1)
  echo "$name: largest final difference over the 5 sections: $worst_section"
  check "$name: final params, moments, teacher and buffers agree with $ref to $tol" \
    awk -v w="${worst_section:-1}" -v t="$tol" 'BEGIN { exit !(w <= t) }'
}

# (i) different counts per micro-batch and rank
toy ref 1
check "ref: exit 0" [ $? -eq 0 ]
for case in "m1 1 schedule.micro_batch=1" "m2 1 schedule.micro_batch=2" "m4 1 schedule.micro_batch=4" \
  "w2 2" "w2_m1 2 schedule.micro_batch=1" "w4 4" "w4_m1 4 schedule.micro_batch=1" "w2_zero 2 dist.zero=1"; do
  set -- $case
  toy "$@"
  check "$1: exit 0" [ $? -eq 0 ]
  agree ref "$1" 1e-6
done
# The trainer divides by the global count: a mean per micro-batch would not
# agree. Sample 0 scores 1 element, sample 2 three, so counts differ here:
check "micro-batches of one sample score 1-3 elements" [ "$(grep -c . "$tmp/m1/metrics.jsonl")" -eq 30 ]

# (ii) two backward passes per micro-batch
for w in 1 2; do
  toy "passes2_w$w" "$w" --passes 2
  check "two passes on $w ranks: exit 0" [ $? -eq 0 ]
  agree "$([ "$w" = 1 ] && echo ref || echo w2)" "passes2_w$w" 1e-6
done
toy passes2_m2 2 --passes 2 schedule.micro_batch=2
agree w2 passes2_m2 1e-6
toy early 2 --passes 2 --arm-early
status=$?
if grep -q "CRATE_SANITIZE:BOOL=ON" "$build/CMakeCache.txt"; then
  check "arming before the first of two passes stops a checking build (exit $status)" [ "$status" -ne 0 ]
  check "... naming the rule" grep -q "changed after its bucket was launched" "$tmp/early.txt"
else
  "$build/crate-ckpt" diff "$tmp/w2/ckpt" "$tmp/early/ckpt" >"$tmp/early.diff" 2>&1
  p=$(json_field "$tmp/early.diff" params_max_abs)
  echo "arming early in a release build: final parameters differ from the correct run by $p"
  check "arming before the first pass changes the result (the rule matters)" awk -v p="${p:-0}" 'BEGIN { exit !(p > 1e-4) }'
fi

# (iii) teacher and buffer through checkpoints
toy split 2 run.stop_after=15
check "stop_after 15 on 2 ranks: exit 0" [ $? -eq 0 ]
"$build/crate-ckpt" verify "$tmp/split/ckpt" >"$tmp/verify.txt" 2>&1
check "crate-ckpt verify: 5 sections" grep -q "ok: step 15, 2 shards of 5 sections verified" "$tmp/verify.txt"
check "crate-ckpt verify: the attached file" grep -q "; 1 attached file verified (toy.bin)" "$tmp/verify.txt"
"$build/crate-ckpt" info "$tmp/split/ckpt" >"$tmp/info.txt" 2>&1
check "crate-ckpt info lists the teacher and buffers" grep -q "sections: params exp_avg exp_avg_sq teacher buffers" "$tmp/info.txt"
for to in 1 4 2; do
  cp -r "$tmp/split" "$tmp/resume$to"
  toy "resume$to" "$to"
  check "resume 2 -> $to ranks: exit 0" [ $? -eq 0 ]
  check "resume 2 -> $to ranks said so" grep -q "resumed from .*step-000015 (step 15, written by 2 ranks)" "$tmp/resume$to.txt"
done
agree ref resume1 1e-6
agree ref resume4 1e-6
for to in 1 4; do
  check "resume 2 -> $to ranks: the final checkpoint still carries toy.bin" \
    cmp -s "$tmp/split/ckpt/step-000015/toy.bin" "$tmp/resume$to/ckpt/step-000030/toy.bin"
done
check "same rank count: losses bitwise" cmp -s <(losses w2) <(losses resume2)
"$build/crate-ckpt" diff "$tmp/w2/ckpt" "$tmp/resume2/ckpt" >"$tmp/same.diff"
check "same rank count: all 5 sections bitwise identical" [ "$(grep -c "bitwise identical" "$tmp/same.diff")" -eq 5 ]
check "the buffer is logged and moves" [ "$(json_field "$tmp/ref/metrics.jsonl" center0 | sort -u | wc -l)" -gt 20 ]
# An objective without a teacher cannot resume one with it (another objective).
pretrain_tiny 1 "$tmp/split" schedule.steps=20 run.seed=3 schedule.global_batch=8 >"$tmp/mismatch.txt" 2>&1
check "an MAE run refuses the toy checkpoint (exit 2)" [ $? -eq 2 ]
check "... naming the section" grep -q "holds the section teacher where this objective has (none)" "$tmp/mismatch.txt"
finish
