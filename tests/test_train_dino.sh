# test_train_dino.sh BUILD_DIR — self-distillation end to end on Fashion-MNIST
# with configs/dino-tiny.yaml (2 global and 2 local views, a teacher store and
# the center buffer):
#  - 1, 2 and 4 ranks, and micro-batches of 4 images, log the same loss and
#    the same collapse monitors at every step (≤ 1e-4 relative);
#  - 40 steps straight vs 20 (run.stop_after) + resume: losses and the final
#    params, moments, teacher and center bitwise equal; resuming on another
#    rank count continues within float rounding;
#  - the k-NN monitor (eval.every) and crate-probe read the teacher by
#    default, --weights student the student, and the two differ;
#  - uniform outputs (temperatures 10) trigger the collapse warning;
#  - bad input: a local view that is not a grid of patches, learned
#    positions, an inverted crop scale range: exit 2 naming the key.
set -u
. "$(dirname "$0")/lib.sh" "$1"

# dino NAME RANKS [overrides...]
dino() {
  local name=$1 ranks=$2
  shift 2
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-pretrain" configs/dino-tiny.yaml \
    data.train="$tmp/D/train" run.dir="$tmp/$name" "$@" >>"$tmp/$name.txt" 2>&1
}
losses() { json_field "$tmp/$1/metrics.jsonl" loss; }
entropy() { json_field "$tmp/$1/metrics.jsonl" teacher_entropy; }
kl() { json_field "$tmp/$1/metrics.jsonl" kl; }

dino w1 1
check "1 rank: exit 0" [ $? -eq 0 ]
check "1 rank: 40 losses" [ "$(losses w1 | wc -l)" -eq 40 ]
check "the progress line carries the collapse monitors" grep -q "teacher_entropy .* kl .* max_prob .* momentum" "$tmp/w1.txt"
first=$(losses w1 | head -1)
echo "1 rank: first loss $first (ln 64 = 4.159), teacher entropy $(entropy w1 | head -1) -> $(entropy w1 | tail -1)"
check "the first loss is near ln K" awk -v l="$first" 'BEGIN { exit !(l > 3.0 && l < 4.5) }'
for run in "2 w2 2" "4 w4 4" "micro4 m4 2 schedule.micro_batch=4"; do
  set -- $run
  label=$1 name=$2 ranks=$3
  shift 3
  dino "$name" "$ranks" "$@"
  check "$label: exit 0" [ $? -eq 0 ]
  check_same_curves w1 "$label ($ranks ranks $*)" "$name" losses entropy kl
done

dino split 1 run.stop_after=20
dino split 1
check "resumed from step 20" grep -q "resumed from .*step-000020" "$tmp/split.txt"
check "stop_after + resume: losses bitwise equal" cmp -s <(losses w1) <(losses split)
"$build/crate-ckpt" diff "$tmp/w1/ckpt" "$tmp/split/ckpt" >"$tmp/diff.txt" 2>&1
check "stop_after + resume: params, moments, teacher and center bitwise equal" \
  [ "$(grep -c "bitwise identical" "$tmp/diff.txt")" -eq 5 ]
check "... the teacher among them" grep -q "^teacher .*bitwise identical" "$tmp/diff.txt"
dino other 1 run.stop_after=20
dino other 2
check_same_curves w1 "20 steps on 1 rank + 20 resumed on 2" other losses entropy

dino eval 2 eval.every=20 data.test="$tmp/D/test" eval.train_samples=500 eval.test_samples=200
check "eval.every: exit 0" [ $? -eq 0 ]
check "the k-NN monitor reads the teacher" grep -q "teacher k-NN top-1" "$tmp/eval.txt"
probe() { "$build/crate-probe" "$tmp/w1/ckpt" --train "$tmp/D/train" --test "$tmp/D/test" --train-limit 600 \
  --test-limit 300 --layers 1 --feature cls --threads 1 "$@"; }
probe >"$tmp/teacher.txt" 2>&1
check "crate-probe on a dino checkpoint: exit 0" [ $? -eq 0 ]
check "... reads the teacher by default" grep -q '"weights":"teacher"' "$tmp/teacher.txt"
probe --weights student >"$tmp/student.txt" 2>&1
check "crate-probe --weights student: exit 0" [ $? -eq 0 ]
check "... reads the student" grep -q '"weights":"student"' "$tmp/student.txt"
t=$(json_field "$tmp/teacher.txt" knn_top1) s=$(json_field "$tmp/student.txt" knn_top1)
echo "k-NN top-1 on 600/300 images: teacher $t, student $s"
"$build/crate-probe" "$tmp/w1/ckpt" --export-safetensors "$tmp/t.safetensors" >/dev/null 2>&1
"$build/crate-probe" "$tmp/w1/ckpt" --export-safetensors "$tmp/s.safetensors" --weights student >/dev/null 2>&1
cmp -s "$tmp/t.safetensors" "$tmp/s.safetensors"
check "the teacher and student exports differ" [ $? -eq 1 ]
"$build/crate-probe" "$tmp/w1/ckpt" --text-train x --text-test y --weights teacher >"$tmp/wt.txt" 2>&1
check "--weights with texts: exit 2" [ $? -eq 2 ]

dino flat 1 dino.teacher_temp=10 dino.warmup_teacher_temp=10 dino.student_temp=10 schedule.steps=20 log.every=10
check "a uniform teacher: the collapse warning" grep -q "warning: .* sits at ln K" "$tmp/flat.txt"

dino badlocal 1 dino.local_size=10
check "local_size not a multiple of the patch: exit 2" [ $? -eq 2 ]
check "... naming the key" grep -q "dino.local_size = 10 .* not a multiple of model.patch = 7" "$tmp/badlocal.txt"
dino badpos 1 model.pos_embed=learned
check "learned positions: exit 2" [ $? -eq 2 ]
check "... saying why" grep -q "model.pos_embed = learned .* sincos" "$tmp/badpos.txt"
dino badscale 1 dino.local_scale_min=0.6 dino.local_scale_max=0.3
check "inverted scale range: exit 2" [ $? -eq 2 ]
check "... naming the key" grep -q "dino.local_scale" "$tmp/badscale.txt"
finish
