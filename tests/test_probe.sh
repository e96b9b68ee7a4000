# test_probe.sh BUILD_DIR — evaluating saved encoders:
#  - training with eval.every logs the k-NN monitor into metrics.jsonl;
#  - crate-probe on a checkpoint written by 2 ranks gives the same numbers
#    run on 1 rank and on 2 ranks (equal threads per rank), with the raw-pixel
#    baseline in the JSON line;
#  - its default feature, mean of the last 4 layers, takes both layers of
#    mae-tiny (depth 2) with a note; an explicit --layers 4 is an error;
#  - --save-features writes .npy files numpy reads with the right shapes;
#  - --export-safetensors writes every tensor of the model, read back by a reader
#    written here and compared with the checkpoint shard itself, decompressed
#    by the lz4 command-line tool;
#  - bad input exits 2 with a message.
set -u
. "$(dirname "$0")/lib.sh" "$1"
py=/usr/bin/python3

pretrain_tiny 2 "$tmp/R" data.test="$tmp/D/test" schedule.steps=40 eval.every=20 eval.train_samples=2000 \
  eval.test_samples=500 dist.threads_per_rank=1 >"$tmp/train.txt" 2>&1
check "training with eval.every exits 0" [ $? -eq 0 ]
check "two k-NN lines in metrics.jsonl" [ "$(grep -c '"knn_top1"' "$tmp/R/metrics.jsonl")" -eq 2 ]

probe() { # probe RANKS OUT [options...]
  local ranks=$1 out=$2
  shift 2
  mpirun -np "$ranks" "${mpirun_flags[@]}" -x OMP_NUM_THREADS=1 "$build/crate-probe" "$tmp/R/ckpt" \
    --train "$tmp/D/train" --test "$tmp/D/test" --train-limit 3000 --test-limit 1000 --threads 1 "$@" >"$out" 2>&1
}
probe 1 "$tmp/p1.txt" --baseline raw --save-features "$tmp/F" --out "$tmp/sweep.jsonl"
check "probe on 1 rank exits 0" [ $? -eq 0 ]
probe 2 "$tmp/p2.txt" --baseline raw
check "probe on 2 ranks exits 0" [ $? -eq 0 ]
numbers() { tail -1 "$1" | sed 's/"seconds":[^}]*//'; }
echo "1 rank:  $(numbers "$tmp/p1.txt")"
echo "2 ranks: $(numbers "$tmp/p2.txt")"
check "1 and 2 ranks give the same numbers" [ "$(numbers "$tmp/p1.txt")" = "$(numbers "$tmp/p2.txt")" ]
check "the JSON line has the linear, k-NN and raw results" grep -q '"linear_top1".*"knn_top1".*"raw_linear_top1"' "$tmp/p1.txt"
check "--out appended the JSON line" [ "$(wc -l <"$tmp/sweep.jsonl")" -eq 1 ]
check "the default feature is mean of all layers of a depth-2 encoder" "$py" -c "
import json
d = json.loads(open('$tmp/sweep.jsonl').read())
assert d['feature'] == 'mean' and d['layers'] == 2, d
"
check "... with a note saying so" grep -q "note: the encoder has 2 layer(s), fewer than the default --layers 4" \
  "$tmp/p1.txt"
check "features as .npy with the right shapes (2 layers of 32)" "$py" -c "
import numpy as np, sys
d = '$tmp/F'
x, y, t, u = (np.load(f'{d}/{n}.npy') for n in ('train_features', 'train_labels', 'test_features', 'test_labels'))
assert x.shape == (3000, 64) and x.dtype == np.float32 and y.shape == (3000,) and y.dtype == np.int64, (x.shape, y.shape)
assert t.shape == (1000, 64) and u.shape == (1000,) and 0 <= y.min() and y.max() == 9
"
probe 1 "$tmp/p3.txt" --feature cls --layers 1 --knn 0
check "--feature cls --layers 1 still works" grep -q '"feature":"cls","layers":1' "$tmp/p3.txt"
probe 1 "$tmp/p4.txt" --layers 4
check "an explicit --layers 4 on a depth-2 encoder exits 2" [ $? -eq 2 ]
check "... naming the depth" grep -q -- "--layers 4: the encoder has 2 layers" "$tmp/p4.txt"

"$build/crate-pretrain" configs/mae-tiny.yaml data.train="$tmp/D/train" run.dir="$tmp/R1" schedule.steps=20 >/dev/null 2>&1
"$build/crate-probe" "$tmp/R1/ckpt" --export-safetensors "$tmp/enc.safetensors" >"$tmp/export.txt" 2>&1
check "export exits 0" [ $? -eq 0 ]
lz4 -dc "$tmp/R1/ckpt/step-000020/shard-00000-of-00001.lz4" >"$tmp/shard.raw"
check "safetensors tensors equal the checkpoint's own bytes" "$py" -c "
import json, struct, numpy as np, yaml
raw = open('$tmp/enc.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__')
assert meta['names'] == 'crate' and meta['objective'] == 'mae' and 'dim: 32' in meta['model'], meta
manifest = yaml.safe_load(open('$tmp/R1/ckpt/step-000020/manifest.yaml'))
shard = open('$tmp/shard.raw', 'rb').read()
assert shard[:8] == b'CRATESHD'
version, sections = struct.unpack('<II', shard[8:16])  # version 2: then one (lo, hi) per section
assert version == 2 and sections == 3, (version, sections)
lo, hi = struct.unpack('<QQ', shard[16:32])
params = np.frombuffer(shard, dtype='<f4', count=hi - lo, offset=16 + 16 * sections)
want = {t['name']: t for t in manifest['tensors']}
assert set(header) == set(want), sorted(set(header) ^ set(want))
for name, h in header.items():
    a, b = h['data_offsets']
    x = np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(h['shape'])
    t = want[name]
    assert list(x.shape) == t['shape'], name
    assert np.array_equal(x.ravel(), params[t['offset']:t['offset'] + x.size]), name
print(len(header), 'tensors (encoder and decoder) match')
"

"$build/crate-probe" "$tmp/nowhere" --train "$tmp/D/train" --test "$tmp/D/test" >"$tmp/bad1.txt" 2>&1
check "a missing checkpoint exits 2" [ $? -eq 2 ]
check "... naming it" grep -q "nowhere.*manifest.yaml" "$tmp/bad1.txt"
"$build/crate-probe" "$tmp/R/ckpt" --train "$tmp/D/train" --test "$tmp/D/test" --feature max >"$tmp/bad2.txt" 2>&1
check "a bad --feature exits 2 naming the choices" grep -q "choose cls, mean or cls+mean" "$tmp/bad2.txt"
finish
