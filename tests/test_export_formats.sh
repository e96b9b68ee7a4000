#!/bin/bash
# test_export_formats.sh BUILD_DIR — the .npy and .safetensors writers
# (src/io/npy.h, src/io/safetensors.h) against readers crate did not write:
# crate-export-sample writes files with known contents; numpy.load reads the
# .npy files (and the raw header is checked against the NPY 1.0 layout); a
# safetensors reader written here with json + struct + numpy.frombuffer (not
# the safetensors package) reads the rest. Also: bad OUT_DIR exits 2 naming the
# path and the reason, no PATH.tmp is left behind, and invalid tensor names are
# rejected.
set -u
BUILD_DIR=${1:?usage: test_export_formats.sh BUILD_DIR}
TOOL="$BUILD_DIR/crate-export-sample"
PY=/usr/bin/python3
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what" >&2; fi
}

if ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "FAIL: $PY cannot import numpy (install Debian's python3-numpy)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

TMP=$(mktemp -d /tmp/crate-test-export-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$TOOL" --help >"$TMP/help.txt" 2>&1
check "--help exits 0" test $? -eq 0
check "--help shows the usage" grep -q "usage: crate-export-sample OUT_DIR" "$TMP/help.txt"
"$TOOL" >/dev/null 2>&1
check "no arguments exits 2" test $? -eq 2
"$TOOL" "$TMP/no-such-dir" >/dev/null 2>"$TMP/err.txt"
check "a missing OUT_DIR exits 2" test $? -eq 2
check "the error names the path" grep -q "no-such-dir/features.npy.tmp" "$TMP/err.txt"
check "the error gives the reason" grep -q "No such file or directory" "$TMP/err.txt"

mkdir "$TMP/out"
"$TOOL" "$TMP/out" >"$TMP/out.txt" 2>"$TMP/err.txt"
check "crate-export-sample exits 0 ($(cat "$TMP/err.txt"))" test $? -eq 0
check "three invalid safetensors requests rejected" test "$(grep -c '^rejected: ' "$TMP/out.txt")" -eq 3
check "a duplicate name is named" grep -q "tensor name 'a' appears twice" "$TMP/out.txt"
check "the reserved name is explained" grep -q 'named "__metadata__", the key reserved' "$TMP/out.txt"
check "a non-UTF-8 name is explained" grep -q "name of tensor 0 is not UTF-8" "$TMP/out.txt"
check "no .tmp file is left behind" test -z "$(find "$TMP/out" -name '*.tmp')"
check "the rejected file was never created" test ! -e "$TMP/out/rejected.safetensors"

# Writing again replaces the files with the same bytes.
cp "$TMP/out/sample.safetensors" "$TMP/first.safetensors"
"$TOOL" "$TMP/out" >/dev/null 2>&1
check "a rewrite gives identical bytes" cmp -s "$TMP/out/sample.safetensors" "$TMP/first.safetensors"

npy_check() {
    "$PY" - "$TMP/out" <<'EOF'
import sys, numpy as np
d = sys.argv[1]

def raw_header(path, descr, shape, itemsize):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", raw[:6]
    assert raw[6:8] == b"\x01\x00", "version %r" % raw[6:8]
    hlen = int.from_bytes(raw[8:10], "little")
    assert (10 + hlen) % 64 == 0, "data starts at %d, not a multiple of 64" % (10 + hlen)
    header = raw[10:10 + hlen].decode("latin1")
    assert header.endswith("\n"), repr(header)
    d = eval(header)  # a Python literal by the spec
    assert d == {"descr": descr, "fortran_order": False, "shape": shape}, d
    n = 1
    for s in shape:
        n *= s
    assert len(raw) == 10 + hlen + n * itemsize, "file size %d" % len(raw)

raw_header(d + "/features.npy", "<f4", (3, 5), 4)
a = np.load(d + "/features.npy")
assert a.dtype == np.dtype("<f4") and a.shape == (3, 5), (a.dtype, a.shape)
want = (np.arange(15, dtype=np.float64) / 2 - 3.25).reshape(3, 5)
assert np.array_equal(a, want), a

raw_header(d + "/empty.npy", "<f4", (0, 4), 4)
e = np.load(d + "/empty.npy")
assert e.dtype == np.dtype("<f4") and e.shape == (0, 4), (e.dtype, e.shape)

raw_header(d + "/labels.npy", "<i8", (6,), 8)
l = np.load(d + "/labels.npy")
assert l.dtype == np.dtype("<i8") and l.shape == (6,), (l.dtype, l.shape)
assert l.tolist() == [0, -1, 9, 2**40, -2**62, 2**63 - 1], l.tolist()
EOF
}
check "the .npy files read back with numpy.load" npy_check

safetensors_check() {
    "$PY" - "$TMP/out/sample.safetensors" <<'EOF'
import sys, json, struct, numpy as np
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert n % 8 == 0, "header length %d is not a multiple of 8" % n
head = raw[8:8 + n]
assert head[:1] == b"{", head[:20]
assert head.rstrip(b" ").endswith(b"}"), "padding must be spaces after the object"
# object_pairs_hook keeps the order and would reveal duplicate keys
pairs = json.loads(head.decode("utf-8"), object_pairs_hook=lambda p: p)
keys = [k for k, _ in pairs]
assert len(keys) == len(set(keys)), keys
h = dict(pairs)
meta = dict(h.pop("__metadata__"))
assert meta == {
    "format": "pt",
    "note": "line1\nline2 \"quoted\" back\\slash\ttab \x01 ctrl \u00e9 \u2192",
    "empty": "",
}, meta
order = ["encoder.W", "bias \"q\" \u00e9", "scalar", "empty", "big"]
assert [k for k in keys if k != "__metadata__"] == order, keys
data = raw[8 + n:]
end = 0
got = {}
for name in order:
    info = dict(h[name])
    assert sorted(info) == ["data_offsets", "dtype", "shape"], info
    assert info["dtype"] == "F32", info
    b, e = info["data_offsets"]
    assert b == end, "%s starts at %d, previous ended at %d" % (name, b, end)
    shape = info["shape"]
    assert e - b == 4 * int(np.prod(shape, dtype=np.int64)), (name, b, e, shape)
    got[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(shape)
    end = e
assert end == len(data), "data section is %d bytes, tensors cover %d" % (len(data), end)
assert np.array_equal(got["encoder.W"], (np.arange(6) / 4 - 1).reshape(2, 3)), got["encoder.W"]
assert np.array_equal(got["bias \"q\" \u00e9"], [1.5, -2.5, 1 / 1024])
assert got["scalar"].shape == () and got["scalar"] == 42.0, got["scalar"]
assert got["empty"].shape == (0, 4)
assert np.array_equal(got["big"], (np.arange(64 * 33) / 8 - 100).reshape(64, 33))
EOF
}
check "the .safetensors file reads back with json + struct + numpy" safetensors_check

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
