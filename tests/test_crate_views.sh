#!/bin/bash
# test_crate_views.sh BUILD_DIR — crate-views end to end on the Fashion-MNIST
# shards: the contact sheet is a valid PNG (every chunk's crc, the pixel data
# inflated and unfiltered by an independent reader) of the size the layout
# gives, with gray padding around the views; one report line per image; the
# same command writes the same file and another seed another one; --help, bad
# keys, values and options exit 2 naming what was wrong.
set -u
source "$(dirname "$0")/lib.sh"
tool="$build/crate-views"
cfg="$(cd "$(dirname "$0")/.." && pwd)/configs/mae.yaml"
data=(objective.name=dino data.train="$tmp/D/train")

# png_info FILE [X Y ...]: "W H CHANNELS" then the byte at each (X, Y), channel 0.
png_info() {
  python3 - "$@" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG signature'
pos, idat, hdr, kinds = 8, b'', None, []
while pos < len(data):
    n, = struct.unpack('>I', data[pos:pos + 4]); kind = data[pos + 4:pos + 8]; body = data[pos + 8:pos + 8 + n]
    assert zlib.crc32(kind + body) == struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])[0], 'bad crc'
    kinds.append(kind)
    if kind == b'IHDR': hdr = struct.unpack('>IIBBBBB', body)
    if kind == b'IDAT': idat += body
    pos += 12 + n
assert kinds[0] == b'IHDR' and kinds[-1] == b'IEND', kinds
w, h, depth, ctype, _, _, interlace = hdr
assert depth == 8 and interlace == 0 and ctype in (0, 2)
ch = 1 if ctype == 0 else 3
raw, stride = zlib.decompress(idat), w * ch
assert len(raw) == h * (stride + 1), 'pixel data of the wrong length'
rows, prev = [], bytearray(stride)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - ch] if i >= ch else 0; b = prev[i]; c = prev[i - ch] if i >= ch else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
coords = [int(v) for v in sys.argv[2:]]
print(w, h, ch, *[rows[coords[k + 1]][coords[k] * ch] for k in range(0, len(coords), 2)])
PY
}

# --help and usage errors.
"$tool" --help >"$tmp/help.txt" 2>&1
check "--help exits 0" test $? -eq 0
check "--help documents the options" grep -q -- "--images N" "$tmp/help.txt"
check "--help lists the dino keys" grep -q "local_crops" "$tmp/help.txt"
"$tool" >/dev/null 2>"$tmp/err.txt"
check "no CONFIG exits 2" test $? -eq 2
check "no CONFIG is named" grep -q "missing CONFIG" "$tmp/err.txt"
"$tool" "$cfg" "${data[@]}" dino.nonsense=1 --out "$tmp/x.png" >/dev/null 2>"$tmp/err.txt"
check "an unknown key exits 2" test $? -eq 2
check "the unknown key is named" grep -q "dino.nonsense" "$tmp/err.txt"
"$tool" "$cfg" "${data[@]}" dino.local_scale_min=0.5 --out "$tmp/x.png" >/dev/null 2>"$tmp/err.txt"
check "an empty scale range exits 2" test $? -eq 2
check "the range's key is named" grep -q "dino.local_scale_min = 0.5 (command line) is above dino.local_scale_max" "$tmp/err.txt"
"$tool" "$cfg" "${data[@]}" --images 0 --out "$tmp/x.png" >/dev/null 2>&1
check "--images 0 exits 2" test $? -eq 2
"$tool" "$cfg" "${data[@]}" --bogus 1 >/dev/null 2>&1
check "an unknown option exits 2" test $? -eq 2
"$tool" "$cfg" "${data[@]}" --first 59999 --images 2 --out "$tmp/x.png" >/dev/null 2>"$tmp/err.txt"
check "samples past the end exit 2" test $? -eq 2
check "... naming data.train" grep -q "data.train = .* holds 60000 images" "$tmp/err.txt"
"$tool" "$cfg" "${data[@]}" --out "$tmp/no/such/dir/v.png" >/dev/null 2>"$tmp/err.txt"
check "an unwritable output exits 2" test $? -eq 2
check "... naming the path" grep -q "$tmp/no/such/dir/v.png" "$tmp/err.txt"
check "no file left behind" test ! -e "$tmp/x.png"

# The default views of 8 images: 9 columns (original, 2 global, 6 local) of
# 28-pixel cells with 2-pixel margins: 2 + 9·30 by 2 + 8·30.
"$tool" "$cfg" "${data[@]}" --images 8 --out "$tmp/v.png" >"$tmp/out.txt" 2>&1
check "crate-views exits 0" test $? -eq 0
cat "$tmp/out.txt"
check "one line per image" test "$(grep -c '^image [0-7] (sample [0-7], label [0-9]): g0: crop ' "$tmp/out.txt")" -eq 8
check "every line has 8 views" test "$(grep '^image' "$tmp/out.txt" | grep -o ' | [gl][0-9]:' | wc -l)" -eq 56
check "the file is reported" grep -q "wrote $tmp/v.png (272x242 pixels)" "$tmp/out.txt"
check "no temporary left" test ! -e "$tmp/v.png.tmp"
# (0,0): margin; (92,2): corner of row 0's first local cell, padding around the 12-pixel view.
info=$(png_info "$tmp/v.png" 0 0 92 2)
check "a valid 272x242 grayscale PNG with gray padding (got: $info)" test "$info" = "272 242 1 128 128"

# Deterministic: the same command, the same bytes; another seed, other views.
"$tool" "$cfg" "${data[@]}" --images 8 --out "$tmp/v2.png" >/dev/null 2>&1
check "the same command writes the same file" cmp -s "$tmp/v.png" "$tmp/v2.png"
"$tool" "$cfg" "${data[@]}" run.seed=1 --images 8 --out "$tmp/v3.png" >/dev/null 2>&1
differ() { ! cmp -s "$1" "$2"; }
check "another seed draws other views" differ "$tmp/v.png" "$tmp/v3.png"

# Larger global views: the original is upscaled into 56-pixel cells.
"$tool" "$cfg" "${data[@]}" dino.global_size=56 dino.local_crops=2 --images 2 --first 100 --out "$tmp/big.png" \
  >"$tmp/big.txt" 2>&1
check "global_size 56 exits 0" test $? -eq 0
check "samples from --first" grep -q "^image 1 (sample 101," "$tmp/big.txt"
info=$(png_info "$tmp/big.png")
check "2 + 5·58 by 2 + 2·58 (got: $info)" test "$info" = "292 118 1"
finish
