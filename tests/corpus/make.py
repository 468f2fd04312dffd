#!/usr/bin/env python3
"""Generator of the hostile-input corpus: damaged files and argument lists, with manifest.tsv.

Deterministic, Python 3 standard library only. Run from anywhere:

    python3 tests/corpus/make.py

It rewrites tests/corpus/{expr,values,npy,idx,mnist,params,checkpoint,report,run,cli}/ and
tests/corpus/manifest.tsv, whose columns are

    target  case  kind  phrase  reason

`target` says which reader tests/corpus.rs runs (expr, values, npy, idx_images, idx_labels,
mnist, params, checkpoint, report, run: in the test process; cli: the `symgrad` binary).
`case` is a path relative to this folder (or an absolute one such as /dev/zero). `kind` is
the exact error kind the reader must report (`ok` for inputs it must accept); for cli cases
it is `refused`, `usage` (clap's own error) or `ok`, and `phrase` is text the one line on
stderr must contain. `reason` says what the case is about.
"""

import gzip
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def put(rel, data):
    p = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(p, "wb") as f:
        f.write(data)
    return rel


def case(target, rel, kind, reason, phrase="-"):
    assert "\t" not in reason and "\n" not in reason
    ROWS.append((target, rel, kind, phrase, reason))


def gz(b):
    # mtime 0: the same bytes every time.
    return gzip.compress(b, mtime=0)


# ---------------------------------------------------------------- expression text
def expressions():
    n = [0]

    def e(text, kind, reason):
        n[0] += 1
        case("expr", put("expr/%03d.txt" % n[0], text), kind, reason)

    e("input x: [3]\nout sum(x * x)", "ok", "a valid cost")
    e("input x: [batch, 3]\nparam w: [3]\nlet $1 = exp(x * w)\nout sum[0, 1]($1 / (1 + $1))",
      "ok", "the module's example")
    e("input x: []\nout log(1 + exp(x))", "ok", "softplus by hand")
    e("input x: [2, 3]\nout mean[1](x)", "ok", "mean over an axis")
    e("input x: [2, 3]\nout softmax[-1](x)", "ok", "softmax sugar")
    e("input a: [2, 3]\ninput b: [3, 4]\nout sum(a @ b)", "ok", "a product")
    e("input x: [3, 2]\nout pad[axis=0, start=1, total=5](x)", "ok", "a small pad")
    e("input x: [3]\nout where(x > 0, x, -x)", "ok", "where")
    e("out 1 + 2 * 3", "ok", "constants only")
    e("input x: [4]\nout slice[axis=0, start=1, len=2](x)", "ok", "a slice")
    e("input x: [3, 2]\nout pad[axis=0, start=0, total=9223372036854775807](x)",
      "parse_too_large", "pad to a total of 2^63 - 1 rows of 2 (the SIGSEGV of the issue)")
    e("input x: [3, 2]\nout pad[axis=0, start=0, total=18446744073709551614](x)",
      "parse_syntax", "a size past i64::MAX is not read as a number")
    e("input x: [3, 2]\nout pad[axis=0, start=9223372036854775807, total=9223372036854775807](x)",
      "parse_invalid", "pad whose start + n overflows: does not fit")
    e("input x: [4294967296, 4294967296]\nout sum(x)", "parse_too_large",
      "an input whose element count wraps to 0")
    e("input x: [3]\nout broadcast_to[4294967296, 4294967296, 3](x)", "parse_too_large",
      "broadcast to 2^64 x 3 elements")
    e("input x: [3]\nout reshape[4294967296, 4294967296](x)", "parse_too_large",
      "reshape to a wrapping count (must not pass as 3 = 0 mod 2^64)")
    e("input x: [2]\nout x +", "parse_syntax", "a dangling operator")
    e("input x: [2]\nout (x", "parse_syntax", "an unclosed parenthesis")
    e("input x: [2]\nout x)", "parse_syntax", "an unopened parenthesis")
    e("", "parse_syntax", "empty text")
    e("\n\n\n", "parse_syntax", "blank lines only")
    e("input x: [2]\nout x # y", "ok", "# starts a comment")
    e("input x: [2]\nout x ? y", "parse_syntax", "an unknown character")
    e("input x: [2\nout x", "parse_syntax", "an unclosed shape")
    e("input x [2]\nout x", "parse_undeclared", "no colon: read as an expression over `input`")
    e("input : [2]\nout 1", "parse_undeclared", "no name: read as an expression over `input`")
    e("input x:", "parse_syntax", "a declaration cut after its colon")
    e("input `x: [2]\nout 1", "parse_syntax", "an unclosed backtick name")
    e("input x: [2]\nout sum[(x)", "parse_syntax", "an unclosed attribute list")
    e("input x: [2]\nout 1e", "parse_syntax", "a bad exponent")
    e("out $", "parse_syntax", "a $ without a number")
    e("out 1..2", "parse_syntax", "two dots")
    e("input x: [2]\nout x\x00", "parse_syntax", "a NUL byte")
    e("input x: [2]\nout x \u00e9", "parse_syntax", "a non-ASCII character")
    e("out y", "parse_undeclared", "an undeclared name")
    e("input x: [2]\nout x + z", "parse_undeclared", "an undeclared name in a sum")
    e("out $7 + 1", "parse_undeclared", "a let never bound")
    e("input x: [2]\ninput x: [2]\nout x", "parse_duplicate", "a name declared twice")
    e("input x: [2]\nparam x: [2]\nout x", "parse_duplicate", "an input and a parameter of one name")
    e("input x: [2]\nlet $1 = x\nlet $1 = x\nout $1", "parse_duplicate", "a let bound twice")
    e("input x: [2]\nout frobnicate(x)", "parse_unknown_op", "no such op")
    e("input x: [2]\nout Sum(x)", "parse_unknown_op", "op names are lower case")
    e("out " + "(" * 300 + "1" + ")" * 300, "parse_depth", "parentheses 300 deep")
    e("out " + "(" * 30000 + "1" + ")" * 30000, "parse_depth", "parentheses 30000 deep")
    e("out " + "-" * 30000 + "1", "parse_depth", "negations 30000 deep")
    e("out " + "2^" * 30000 + "1", "parse_depth", "powers 30000 deep")
    e("input x: []\nout " + "exp(" * 1000 + "x" + ")" * 1000, "parse_depth", "calls 1000 deep")
    e("input x: []\nout " + "exp(" * 150 + "x" + ")" * 150, "ok", "calls 150 deep")
    e("input a: [2, 3]\ninput b: [2, 3]\nout sum(a @ b)", "parse_invalid",
      "a product of mismatched inner dimensions")
    e("input a: [2, 3]\ninput b: [4, 3]\nout sum(a + b)", "parse_invalid",
      "shapes that do not broadcast")
    e("input x: [2, 3]\nout sum[5](x)", "parse_invalid", "an axis out of range")
    e("input x: [2, 3]\nout sum[-3](x)", "parse_invalid", "a negative axis out of range")
    e("input x: [4]\nout slice[axis=0, start=3, len=5](x)", "parse_invalid", "a slice past the end")
    e("input x: [3]\nout reshape[2, 2](x)", "parse_invalid", "a reshape of another count")
    e("input x: [3]\nout transpose[0, 0](x)", "parse_invalid", "a transpose that repeats an axis")
    e("input x: [-3]\nout x", "parse_invalid", "a negative size")
    e("input x: [3]\nout exp(x, x)", "parse_invalid", "too many arguments")
    e("input x: [3]\nout where(x)", "parse_invalid", "too few arguments")
    e("input x: [3]\nout softmax[7](x)", "parse_invalid", "softmax over a missing axis")
    e("input x: [3]\nout square[1](x)", "parse_invalid", "square takes no attributes")
    e("input x: [3]\nout pad[axis=0, start=2, total=3](x)", "parse_invalid", "a pad smaller than x")
    e("input x: [3, 4294967296]\nout x", "ok", "a large but representable shape (nothing allocated)")
    e("input x: [2]\nout x\nout x + 1", "ok", "two outputs")


# ---------------------------------------------------------------- value lists
def values():
    n = [0]

    def v(text, kind, reason):
        n[0] += 1
        case("values", put("values/%03d.txt" % n[0], text), kind, reason)

    v("2", "ok", "a scalar")
    v("-1e3", "ok", "a scalar in exponent form")
    v("[1, 2, 3]", "ok", "a vector")
    v("[[1, 2], [3, 4.5]]", "ok", "a matrix")
    v("[]", "ok", "an empty list")
    v("[[], []]", "ok", "two empty lists")
    v("[[[1]]]", "ok", "three levels")
    v("  [ 1 ,2 ]  ", "ok", "spaces around")
    v("[nan, inf, -inf]", "ok", "non-finite numbers are values")
    v("[" * 64 + "1" + "]" * 64, "ok", "64 levels: the bound")
    v("[" * 65 + "1" + "]" * 65, "value_depth", "65 levels")
    v("[" * 100000 + "1" + "]" * 100000, "value_depth", "10^5 levels (the stack overflow)")
    v("[" * 30000, "value_depth", "30000 unclosed")
    v("[1, [2]]", "value_list_for_number", "a list after a number")
    v("[[1], 2]", "value_number_for_list", "a number after a list")
    v("[[1], [2, 3]]", "value_ragged", "ragged rows")
    v("[[1, 2], [3]]", "value_ragged", "ragged rows, shorter last")
    v("[[], [1]]", "value_ragged", "an empty row then a full one")
    v("[[[1, 2]], [[3]]]", "value_ragged", "ragged at depth 2")
    v("[1 2]", "value_separator", "no comma")
    v("[1;2]", "value_not_a_number", "a semicolon inside a number")
    v("[1,, 2]", "value_not_a_number", "an empty item")
    v("[1,]", "value_not_a_number", "a trailing comma")
    v("[1", "value_separator", "unclosed after a number")
    v("[1,", "value_not_a_number", "unclosed after a comma")
    v("abc", "value_not_a_number", "a word")
    v("", "value_not_a_number", "nothing")
    v("0x10", "value_not_a_number", "hexadecimal")
    v("1e99999", "ok", "an exponent that overflows reads as inf (Rust's parse)")
    v("1]", "value_trailing", "a stray bracket")
    v("[1] [2]", "value_trailing", "two lists")
    v("[1]]", "value_trailing", "one bracket too many")
    v("2 3", "value_trailing", "two numbers")
    v("[1, 2]x", "value_trailing", "a letter after")
    v("[\u00e9]", "value_not_a_number", "a non-ASCII letter")
    v("[1\u00a02]", "value_separator", "a no-break space inside a number (a space)")
    v("[" + ", ".join(["0.5"] * 2000) + "]", "ok", "2000 numbers")
    v("[" + ", ".join(["[1]"] * 1000) + ", [1, 2]]", "value_ragged", "ragged after 1000 rows")
    v("]", "value_not_a_number", "a closing bracket only")
    v("[[1, 2], [3, 4]", "value_separator", "the outer list unclosed")


# ---------------------------------------------------------------- .npy
def npy_bytes(descr, shape, data=b"", version=1, fortran="False", header=None, magic=b"\x93NUMPY"):
    if header is None:
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    h = header
    pre = 10 if version == 1 else 12
    while (pre + len(h) + 1) % 64 != 0:
        h += " "
    h += "\n"
    hb = h.encode("latin-1")
    out = magic + bytes([version, 0])
    out += struct.pack("<H", len(hb)) if version == 1 else struct.pack("<I", len(hb))
    return out + hb + data


def f8(*xs):
    return b"".join(struct.pack("<d", x) for x in xs)


def f4(*xs):
    return b"".join(struct.pack("<f", x) for x in xs)


def npys():
    n = [0]

    def c(data, kind, reason):
        n[0] += 1
        case("npy", put("npy/%03d.npy" % n[0], data), kind, reason)

    good = npy_bytes("<f8", "(2,)", f8(1.5, -2.0))
    c(good, "ok", "two f8")
    c(npy_bytes("<f4", "(2, 3)", f4(*[0.25] * 6)), "ok", "a 2x3 f4")
    c(npy_bytes("<f8", "()", f8(3.0)), "ok", "a scalar")
    c(npy_bytes("<f8", "(0,)"), "ok", "an empty vector")
    c(npy_bytes("<f8", "(0, 5)"), "ok", "an empty matrix")
    c(npy_bytes("|u1", "(3,)", b"\x01\x02\x03"), "ok", "bytes")
    c(npy_bytes("|i1", "(2,)", b"\xff\x01"), "ok", "signed bytes")
    c(npy_bytes("<i4", "(2,)", struct.pack("<2i", -5, 7)), "ok", "i4")
    c(npy_bytes("<i8", "(1,)", struct.pack("<q", 9)), "ok", "i8")
    c(npy_bytes("|b1", "(2,)", b"\x00\x01"), "ok", "booleans")
    c(npy_bytes("<f8", "(2,)", f8(1, 2), version=2), "ok", "version 2")
    c(npy_bytes("<f8", "(2,)", f8(1, 2), version=3), "ok", "version 3")
    c(npy_bytes("<f8", "(1,)", f8(2.5) + b"\xab" * 100), "ok", "trailing bytes are not read")
    c(npy_bytes("<f8", "(2,)", f8(float("nan"), float("inf"))), "ok", "non-finite values are data")
    c(b"", "npy_magic", "an empty file")
    c(b"hello world, not numpy", "npy_magic", "text")
    c(b"\x93NUMP", "npy_magic", "the magic cut short")
    c(b"\x93NUMPX\x01\x00\x10\x00" + b" " * 16, "npy_magic", "a wrong magic")
    c(good[:9], "npy_magic", "cut inside the header length")
    c(npy_bytes("<f8", "(2,)", f8(1, 2), version=0), "npy_version", "version 0")
    c(npy_bytes("<f8", "(2,)", f8(1, 2), version=9), "npy_version", "version 9")
    c(b"\x93NUMPY\x02\x00\x10\x00", "npy_version", "version 2 without room for its length")
    c(b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 10, "npy_header", "a header longer than the file")
    c(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f" + b"{" * 10, "npy_header", "a header of 2 GiB")
    c(npy_bytes("", "", header="\xff\xfe garbage"), "npy_header", "a header that is not UTF-8")
    c(npy_bytes("", "", header="{'fortran_order': False, 'shape': (2,), }"), "npy_header", "no descr")
    c(npy_bytes("", "", header="{'descr': '<f8', 'shape': (2,), }"), "npy_header", "no fortran_order")
    c(npy_bytes("", "", header="{'descr': '<f8', 'fortran_order': False, }"), "npy_header", "no shape")
    c(npy_bytes("", "", header=""), "npy_header", "an empty header")
    c(npy_bytes("<f8", "(2,)", f8(1, 2), fortran="True"), "npy_fortran", "Fortran order")
    c(npy_bytes("", "", header="{'descr': <f8, 'fortran_order': False, 'shape': (2,), }"),
      "npy_dtype", "an unquoted descr")
    for d, why in [(">f8", "big-endian"), ("<f0", "zero width (chunks of 0 panicked)"),
                   ("<i0", "zero-width integers"), ("<f16", "float128"), ("<c16", "complex"),
                   ("|O", "objects"), ("<f2", "float16"), ("<U3", "unicode"), ("|S5", "bytes strings"),
                   ("<u4", "u4"), ("<fx", "an unreadable width"), ("", "an empty descr"),
                   ("<f99999999999999999999", "a width that overflows"), ("=f8", "native order")]:
        c(npy_bytes(d, "(2,)", b"\0" * 64), "npy_dtype", "dtype " + why)
    c(npy_bytes("<f8", "2", f8(1, 2)), "npy_shape", "a shape without parentheses")
    c(npy_bytes("<f8", "(2, x)", f8(1, 2)), "npy_shape", "a letter in the shape")
    c(npy_bytes("<f8", "(-2,)", f8(1, 2)), "npy_shape", "a negative dimension")
    c(npy_bytes("<f8", "(2.5,)", f8(1, 2)), "npy_shape", "a fractional dimension")
    c(npy_bytes("<f8", "(99999999999999999999999,)"), "npy_shape", "a dimension past u64")
    c(npy_bytes("<f8", "(4294967296, 4294967296)"), "npy_overflow", "an element count that wraps")
    c(npy_bytes("<f8", "(2305843009213693952,)"), "npy_overflow", "a byte count that wraps")
    c(npy_bytes("<f4", "(4611686018427387904,)"), "npy_overflow", "f4 bytes that wrap")
    c(npy_bytes("<f8", "(65536, 65536, 65536, 65536)"), "npy_overflow", "four dimensions that wrap")
    c(npy_bytes("<f8", "(1000000000000,)", b"\0" * 16), "too_large",
      "a promise of 8 TB refused before reading (memory limit)")
    c(npy_bytes("<f8", "(100000000,)", b"\0" * 16), "too_large",
      "800 MB promised: over the test's 64 MiB limit")
    c(npy_bytes("|u1", "(100000000,)", b"\0" * 16), "too_large",
      "100 MB of bytes become 800 MB of f64")
    c(npy_bytes("<f8", "(3,)", f8(1)), "truncated", "data one value short")
    c(npy_bytes("<f8", "(2,)", f8(1)[:5]), "truncated", "data cut inside a value")
    c(npy_bytes("<f4", "(2, 3)", f4(1, 2, 3)), "truncated", "half the data")
    c(npy_bytes("<f8", "(1000,)"), "truncated", "no data at all")
    c(good[:len(good) - 1], "truncated", "the last byte missing")
    c(good[:40], "npy_header", "cut inside the header text")


# ---------------------------------------------------------------- IDX
IM, LB = 0x803, 0x801


def idx(magic, dims, data=b""):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data


def idxs():
    n = [0]

    def c(target, data, kind, reason, ext=""):
        n[0] += 1
        case(target, put("idx/%03d%s" % (n[0], ext), data), kind, reason)

    im = idx(IM, [2, 2, 3], bytes(range(12)))
    lb = idx(LB, [3], b"\x01\x02\x03")
    c("idx_images", im, "ok", "two 2x3 images")
    c("idx_images", gz(im), "ok", "gzipped", ".gz")
    c("idx_images", gz(im[:10]) + gz(im[10:]), "ok", "a multi-member gzip file (gunzip reads it)", ".gz")
    c("idx_images", gz(im[:3]) + gz(im[3:9]) + gz(im[9:]), "ok", "three members", ".gz")
    c("idx_images", im + b"\xee" * 50, "ok", "trailing bytes are not read")
    c("idx_images", idx(IM, [0, 28, 28]), "ok", "no images: the reader reads them (the data set refuses)")
    c("idx_labels", lb, "ok", "three labels")
    c("idx_labels", gz(lb), "ok", "gzipped labels", ".gz")
    c("idx_labels", idx(LB, [0]), "ok", "no labels")
    c("idx_images", b"", "truncated", "an empty file")
    c("idx_images", b"\x00\x00\x08", "truncated", "three bytes")
    c("idx_images", im[:4], "truncated", "the magic only")
    c("idx_images", im[:15], "truncated", "cut inside the sizes")
    c("idx_images", im[:20], "truncated", "cut inside the pixels")
    c("idx_images", idx(IM, [3, 2, 2], bytes(10)), "truncated", "10 of 12 pixels")
    c("idx_images", gz(im[:20]), "truncated", "gzipped and cut inside the pixels", ".gz")
    c("idx_labels", idx(LB, [5], b"\x01"), "truncated", "1 of 5 labels")
    c("idx_labels", b"\x00\x00\x08\x01", "truncated", "a label magic with no count")
    c("idx_images", lb, "magic", "labels where images are expected")
    c("idx_labels", im, "magic", "images where labels are expected")
    c("idx_images", idx(0x00000800 | 0x0d, [1, 1, 1], b"\0" * 8), "magic", "a float IDX (type 0x0d)")
    c("idx_images", b"PK\x03\x04" + b"\0" * 30, "magic", "a zip file")
    c("idx_images", b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "magic", "a PNG")
    c("idx_images", gz(lb), "magic", "gzipped labels as images", ".gz")
    c("idx_images", idx(IM, [0xFFFFFFFF] * 3, b"\0" * 16), "too_large", "2^96 pixels promised")
    c("idx_images", idx(IM, [60000, 28, 28], b"\0" * 16), "too_large",
      "MNIST-sized promise over the test's 64 MiB limit (8 MiB of bytes)")
    c("idx_labels", idx(LB, [0xFFFFFFFF], b"\0" * 16), "too_large", "4 G labels promised")
    # A gzip bomb: 20 MB of zeros under a header that promises all of it; 20 KB on disk.
    bomb = gz(idx(IM, [20000, 32, 32]) + bytes(20000 * 32 * 32))
    c("idx_images", bomb, "too_large", "a gzip bomb whose header promises 20 MB", ".gz")
    small = gz(idx(IM, [1, 2, 2], b"\x01\x02\x03\x04") + bytes(20 << 20))
    c("idx_images", small, "ok", "a gzip bomb past a small promise: only 4 bytes read", ".gz")
    c("idx_images", b"\x1f\x8b\x08\x00\x01\x02\x03", "io", "a corrupt gzip stream", ".gz")
    c("idx_images", b"\x1f\x8b", "io", "the gzip magic only", ".gz")
    c("idx_images", gz(im)[:25], "io", "a gzip stream cut short", ".gz")
    bad_crc = bytearray(gz(im))
    bad_crc[-8] ^= 0xFF
    c("idx_images", bytes(bad_crc), "io", "a gzip member with a wrong CRC", ".gz")
    bad_len = bytearray(gz(im))
    bad_len[-1] ^= 0x01
    c("idx_images", bytes(bad_len), "io", "a gzip member with a wrong length", ".gz")
    c("idx_images", gz(im) + b"garbage!", "io", "garbage after a gzip member", ".gz")
    c("idx_images", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40, "io",
      "a deflate stream of invalid blocks", ".gz")
    c("idx_images", idx(IM, [1, 0, 5]), "ok", "images of 0 pixels are read (the data set refuses)")
    c("idx_labels", idx(LB, [2], b"\x05\x06") + idx(LB, [2], b"\x07\x08"), "ok",
      "two files back to back: only the first read")
    case("idx_images", "/dev/zero", "magic", "an endless file of zeros")
    case("idx_images", "/dev/null", "truncated", "an empty device")
    case("idx_images", "idx/absent", "io", "a missing file")
    case("idx_images", "idx", "io", "a folder")


# ---------------------------------------------------------------- MNIST folders
def mnist_dirs():
    def folder(name, tri, trl, tei, tel, kind, reason):
        base = "mnist/" + name
        for stem, data in [("train-images-idx3-ubyte", tri), ("train-labels-idx1-ubyte", trl),
                           ("t10k-images-idx3-ubyte", tei), ("t10k-labels-idx1-ubyte", tel)]:
            if data is not None:
                put(base + "/" + stem, data)
        case("mnist", base, kind, reason)

    im2 = idx(IM, [2, 2, 2], bytes(8))
    lb2 = idx(LB, [2], b"\x01\x02")
    folder("good", im2, lb2, im2, lb2, "ok", "four small files")
    folder("zero-train", idx(IM, [0, 2, 2]), idx(LB, [0]), im2, lb2, "empty",
           "a training set of 0 images (trained on nothing)")
    folder("zero-test", im2, lb2, idx(IM, [0, 2, 2]), idx(LB, [0]), "empty",
           "a test set of 0 images (scored on nothing)")
    folder("zero-pixels", idx(IM, [2, 0, 2]), lb2, im2, lb2, "empty", "images of 0 pixels")
    folder("mismatch", im2, idx(LB, [3], b"\x01\x02\x03"), im2, lb2, "mismatch",
           "2 images, 3 labels")
    folder("no-labels", im2, None, im2, lb2, "io", "the training labels missing")
    folder("swapped", lb2, im2, im2, lb2, "magic", "labels and images swapped")
    folder("empty-folder", None, None, None, None, "io", "no files")
    put("mnist/empty-folder/.keep", b"")
    folder("gz", None, None, None, None, "ok", "gzipped files")
    for stem, data in [("train-images-idx3-ubyte", im2), ("train-labels-idx1-ubyte", lb2),
                       ("t10k-images-idx3-ubyte", im2), ("t10k-labels-idx1-ubyte", lb2)]:
        put("mnist/gz/" + stem + ".gz", gz(data))


# ---------------------------------------------------------------- safetensors
def st_bytes(tensors, meta=None, header_override=None, pad=True):
    """tensors: list of (name, dtype, shape, data bytes)."""
    header = {}
    blob = b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta is not None:
        header["__metadata__"] = meta
    if header_override is not None:
        header = header_override(header)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def vec(n, value=0.01, dtype="F32"):
    if dtype == "F32":
        return b"".join(struct.pack("<f", value * ((i % 7) - 3)) for i in range(n))
    return b"".join(struct.pack("<d", value * ((i % 7) - 3)) for i in range(n))


def net(sizes, units=None, tied=False, out="logistic"):
    units = units if units is not None else ["logistic"] * (len(sizes) - 2) + ["linear"]
    return {"sizes": sizes, "units": units, "output_unit": out, "tied": tied}


def layout(sizes, tied=False):
    k = len(sizes) - 1
    layers = [(sizes[i], sizes[i + 1]) for i in range(k)] + [(sizes[i + 1], sizes[i]) for i in reversed(range(k))]
    out = []
    for i, (a, b) in enumerate(layers):
        if not tied or i < k:
            out.append(("W%d" % (i + 1), [a, b]))
        out.append(("b%d" % (i + 1), [b]))
    return out


def params_tensors(sizes, tied=False, dtype="F32", value=0.01):
    t = []
    for name, shape in layout(sizes, tied):
        n = 1
        for d in shape:
            n *= d
        t.append((name, dtype, shape, vec(n, value, dtype)))
    return t


def params():
    n = [0]
    S = [4, 3, 2]

    def c(data, kind, reason):
        n[0] += 1
        case("params", put("params/%03d.safetensors" % n[0], data), kind, reason)

    def meta(network):
        return {"network": network if isinstance(network, str) else json.dumps(network)}

    good_t = params_tensors(S)
    good = st_bytes(good_t, meta(net(S)))
    c(good, "ok", "a small network")
    c(st_bytes(params_tensors(S, dtype="F64"), meta(net(S))), "ok", "F64 tensors")
    c(st_bytes(params_tensors(S, tied=True), meta(net(S, tied=True))), "ok", "tied")
    c(st_bytes(good_t + [("extra", "F32", [1], vec(1))], meta(net(S))), "ok", "an extra tensor")
    c(st_bytes(good_t), "metadata_missing", "no metadata")
    c(st_bytes(good_t, {"layout": "[]"}), "metadata_missing", "no network in the metadata")
    c(st_bytes(good_t, meta("{not json")), "network", "network not JSON")
    c(st_bytes(good_t, meta("[4, 3, 2]")), "network", "network a list")
    c(st_bytes(good_t, meta(net([]))), "network", "no sizes (the depth underflowed)")
    c(st_bytes(good_t, meta(net([4], units=[]))), "network", "one size: a one-layer network")
    c(st_bytes(good_t, meta(net(S, units=["logistic"]))), "network", "units shorter than layers")
    c(st_bytes(good_t, meta(net([4, 0, 2]))), "network", "a layer of 0 units")
    c(st_bytes(good_t, meta(net(S, units=["softmax", "linear"]))), "network", "an unknown unit")
    c(st_bytes(good_t, meta(net([8589934592, 8589934592, 8589934592]))), "network",
      "sizes whose parameter count overflows")
    c(st_bytes(good_t, meta(net([4, 1000000000000]))), "too_large", "10^12 x 4 parameters")
    c(st_bytes(good_t, meta(net([4, 3000000]))), "too_large",
      "24 M parameters: over the test's 64 MiB limit")
    c(st_bytes(good_t, meta(net([4, 3, 2], tied="yes"))), "network", "tied not a boolean")
    c(st_bytes(good_t, meta(net([4, -3, 2]))), "network", "a negative size")
    c(st_bytes([t for t in good_t if t[0] != "W2"], meta(net(S))), "missing_tensor", "W2 missing")
    c(st_bytes([], meta(net(S))), "missing_tensor", "no tensors")
    short = [(a, b, ([2] if a == "b1" else c_), vec(2) if a == "b1" else d) for a, b, c_, d in good_t]
    c(st_bytes(short, meta(net(S))), "tensor_length", "b1 one value short")
    long_ = [(a, b, ([13] if a == "W1" else c_), vec(13) if a == "W1" else d) for a, b, c_, d in good_t]
    c(st_bytes(long_, meta(net(S))), "tensor_length", "W1 one value long")
    c(st_bytes(params_tensors([4, 3, 5]), meta(net(S))), "tensor_length", "tensors of another network")
    for dt, sz in [("I8", 1), ("BF16", 2), ("F16", 2), ("I64", 8), ("BOOL", 1)]:
        t = [(a, dt if a == "b2" else b, c_, bytes(2 * sz) if a == "b2" else d) for a, b, c_, d in good_t]
        c(st_bytes(t, meta(net(S))), "dtype", "b2 of dtype " + dt)
    nan = [(a, b, c_, struct.pack("<f", float("nan")) + d[4:] if a == "W1" else d) for a, b, c_, d in good_t]
    c(st_bytes(nan, meta(net(S))), "non_finite", "a NaN weight (evaluated to NaN errors)")
    inf = [(a, b, c_, struct.pack("<f", float("inf")) * 2 if a == "b1" else d[:len(d)]) for a, b, c_, d in good_t]
    inf = [(a, b, c_, (struct.pack("<f", float("inf")) + d[4:]) if a == "b1" else d) for a, b, c_, d in good_t]
    c(st_bytes(inf, meta(net(S))), "non_finite", "an infinite bias")
    c(good[:100], "safetensors", "cut inside the header")
    c(good[:-4], "safetensors", "cut inside the data")
    c(b"", "safetensors", "an empty file")
    c(b"\0" * 8, "safetensors", "a header of length 0")
    c(struct.pack("<Q", 2 ** 63) + b"{}", "safetensors", "a header of 2^63 bytes")
    c(struct.pack("<Q", 50_000_000) + b"{}", "safetensors", "a header longer than the file")
    c(struct.pack("<Q", 8) + b"not json", "safetensors", "a header that is not JSON")
    c(st_bytes(good_t, meta(net(S)), lambda h: dict(h, W1=dict(h["W1"], data_offsets=[0, 10 ** 12]))),
      "safetensors", "offsets past the end")
    c(st_bytes(good_t, meta(net(S)), lambda h: dict(h, W1=dict(h["W1"], shape=[4, 4]))),
      "safetensors", "a shape that disagrees with its offsets")
    c(st_bytes(good_t, meta(net(S)), lambda h: dict(h, W1=dict(h["W1"], shape=[4294967296, 4294967296]))),
      "safetensors", "a shape whose count wraps")
    c(st_bytes(good_t, meta(net(S)), lambda h: dict(h, W1=dict(h["W1"], dtype="F128"))),
      "safetensors", "an unknown dtype")
    c(st_bytes(good_t, {"network": 5}), "safetensors", "metadata that is not a string")
    case("params", "/dev/zero", "not_a_file", "an endless device")
    case("params", "params", "not_a_file", "a folder")
    case("params", "params/absent.safetensors", "io", "a missing file")


# ---------------------------------------------------------------- checkpoints
CONFIG = {
    "data": "curves", "train_size": 20, "test_size": 10,
    "network": net([784, 2], units=["linear"], tied=True), "loss": "cross-entropy", "pretrain": None,
    "finetune": {"method": {"minimize-m": {"batch": 500, "line_searches": 3}}, "epochs": 1,
                 "loss": "cross-entropy", "seed": 1},
    "precision": "f32", "seed": 1,
}
STATE = {
    "layers_done": 0, "layer_epochs_done": 0, "finetune_epochs_done": 1, "finetuning": True,
    "pretrain_errors": [], "records": [], "seconds": 0.5, "unrolled_test_error": 100.0,
}
X_LEN = 784 * 2 + 2 + 784  # the tied [784, 2] network's parameters; also its layer 0's W, b_h, b_v


def ckpt(config=CONFIG, state=STATE, current=None, velocity=b"", extra=(), drop=(), dtype="F32",
         meta_override=None):
    if current is None:
        current = vec(X_LEN, dtype=dtype)
    w = 8 if dtype == "F64" else 4
    t = [("current", dtype, [len(current) // w], current), ("velocity", dtype, [len(velocity) // w], velocity)]
    t = [x for x in t if x[0] not in drop] + list(extra)
    meta = {"config": config if isinstance(config, str) else json.dumps(config),
            "state": state if isinstance(state, str) else json.dumps(state)}
    if meta_override is not None:
        meta = meta_override(meta)
    return st_bytes(t, meta)


def with_(d, **kw):
    out = json.loads(json.dumps(d))
    out.update(kw)
    return out


def checkpoints():
    n = [0]

    def c(data, kind, reason):
        n[0] += 1
        case("checkpoint", put("checkpoint/%03d.safetensors" % n[0], data), kind, reason)

    nan = struct.pack("<f", float("nan"))
    inf = struct.pack("<f", float("-inf"))
    x = vec(X_LEN)
    c(ckpt(), "ok", "fine-tuning, no velocity")
    c(ckpt(velocity=vec(X_LEN)), "ok", "fine-tuning with a velocity")
    c(ckpt(dtype="F64"), "ok", "F64 tensors")
    pre = with_(STATE, finetuning=False, finetune_epochs_done=0, layer_epochs_done=1, pretrain_errors=[[1.0]])
    c(ckpt(state=pre), "ok", "in the middle of pre-training layer 0")
    c(ckpt(current=x[:-12]), "tensor_length", "x three values short")
    c(ckpt(current=x + x[:4]), "tensor_length", "x one value long")
    c(ckpt(current=b""), "tensor_length", "x empty while fine-tuning")
    c(ckpt(state=pre, current=x[:-4]), "tensor_length", "the layer in progress one value short")
    c(ckpt(current=nan * X_LEN), "non_finite", "x all NaN (overwrote good results)")
    c(ckpt(current=x[:-4] + inf), "non_finite", "one infinite value")
    c(ckpt(velocity=vec(X_LEN)[:-4] + nan), "non_finite", "a NaN velocity")
    c(ckpt(velocity=vec(X_LEN - 1)), "velocity_length", "a velocity one value short (momentum)")
    c(ckpt(velocity=vec(5)), "velocity_length", "a velocity of 5 values")
    c(ckpt(velocity=vec(2 * X_LEN)), "velocity_length", "a velocity twice as long")
    c(ckpt(drop=("current",)), "missing_tensor", "no current")
    c(ckpt(drop=("velocity",)), "missing_tensor", "no velocity")
    c(ckpt(meta_override=lambda m: {"state": m["state"]}), "metadata_missing", "no config")
    c(ckpt(meta_override=lambda m: {"config": m["config"]}), "metadata_missing", "no state")
    c(ckpt(meta_override=lambda m: {}), "metadata_missing", "empty metadata")
    c(ckpt(config="{"), "config", "config not JSON")
    c(ckpt(config=with_(CONFIG, data="imagenet")), "config", "an unknown data source")
    for sizes, units, why in [([], [], "no sizes"), ([784], [], "one size"),
                              ([784, 2], [], "no units"), ([784, 0], ["linear"], "a layer of 0"),
                              ([100, 2], ["linear"], "100 inputs for 784 pixels"),
                              ([784, 4294967296, 4294967296], ["linear", "linear"], "a count that overflows")]:
        c(ckpt(config=with_(CONFIG, network=net(sizes, units=units, tied=True))), "config", "network: " + why)
    c(ckpt(config=with_(CONFIG, network=net([784, 1000000000000], units=["linear"], tied=True))),
      "too_large", "a network of 10^12 units")
    c(ckpt(config=with_(CONFIG, train_size=10 ** 12)), "too_large", "10^12 training examples")
    c(ckpt(config=with_(CONFIG, train_size=0)), "config", "train_size 0 (trained on nothing)")
    c(ckpt(config=with_(CONFIG, test_size=0)), "config", "test_size 0")
    c(ckpt(config=with_(CONFIG, finetune=with_(CONFIG["finetune"], method={"minimize-m": {"batch": 0, "line_searches": 3}}))),
      "config", "a batch of 0")
    c(ckpt(config=with_(CONFIG, network=net([784, 2], units=["linear"], tied=True, out="linear"))),
      "config", "cross-entropy over linear outputs")
    c(ckpt(state="[1, 2"), "state", "state not JSON")
    c(ckpt(state=with_(STATE, layers_done="one")), "state", "a counter that is a string")
    c(ckpt(state=with_(STATE, layers_done=5)), "state", "5 layers done of 1")
    c(ckpt(state=with_(STATE, pretrain_errors=[[1.0], [2.0], [3.0]])), "state", "errors for 3 layers of 1")
    c(ckpt(state=with_(pre, layers_done=1, layer_epochs_done=0, pretrain_errors=[]), current=b"",
           extra=[("layer0.W", "F32", [1568], vec(1568)), ("layer0.b_hidden", "F32", [2], vec(2)),
                  ("layer0.b_visible", "F32", [784], vec(784))]),
      "state", "a layer done without its errors")
    done1 = with_(pre, layers_done=1, layer_epochs_done=0, pretrain_errors=[[1.0]])
    layer = [("layer0.W", "F32", [1568], vec(1568)), ("layer0.b_hidden", "F32", [2], vec(2)),
             ("layer0.b_visible", "F32", [784], vec(784))]
    c(ckpt(state=done1, current=b"", extra=layer), "ok", "layer 0 pre-trained, kept")
    c(ckpt(state=done1, current=b"", extra=layer[:2]), "missing_tensor", "layer 0 without b_visible")
    c(ckpt(state=done1, current=b"", extra=[layer[0], ("layer0.b_hidden", "F32", [1], vec(1)), layer[2]]),
      "tensor_length", "layer 0's b_hidden one short")
    c(ckpt(state=done1, current=b"", extra=[("layer0.W", "F32", [1568], nan * 1568)] + layer[1:]),
      "non_finite", "a pre-trained layer of NaN")
    c(ckpt(extra=[("current2", "I32", [1], b"\0" * 4)], drop=()), "dtype", "an I32 tensor")
    c(ckpt()[:200], "safetensors", "cut inside the header")
    c(ckpt()[:-100], "safetensors", "cut inside the data")
    case("checkpoint", "/dev/zero", "not_a_file", "an endless device")
    case("checkpoint", "checkpoint/absent.safetensors", "io", "a missing file")


# ---------------------------------------------------------------- report.json
REPORT = {
    "config": CONFIG, "state": STATE, "unrolled_test_error": 100.0, "pca_test_error": 20.0,
    "train_error": 25.0, "test_error": 26.0, "parameters": X_LEN,
}


def reports():
    n = [0]

    def c(data, kind, reason):
        n[0] += 1
        if not isinstance(data, (bytes, str)):
            data = json.dumps(data, indent=2)
        case("report", put("report/%03d.json" % n[0], data), kind, reason)

    c(REPORT, "ok", "a valid report")
    c(with_(REPORT, unrolled_test_error=None), "ok", "no unrolled error")
    c("", "report_json", "an empty file")
    c("{", "report_json", "cut at the start")
    c(json.dumps(REPORT)[:-10], "report_json", "cut near the end")
    c("{'config': 1}", "report_json", "single quotes")
    c(json.dumps(REPORT) + " trailing", "report_json", "text after the object")
    c(b"\xff\xfe{}", "report_json", "not UTF-8")
    c("[" * 100000, "report_json", "arrays 10^5 deep (serde's recursion limit)")
    c("[]", "report", "an array")
    c("{}", "report", "an empty object")
    c("null", "report", "null")
    c(with_(REPORT, config=None), "report", "no config")
    c({k: v for k, v in REPORT.items() if k != "state"}, "report", "no state")
    c(with_(REPORT, parameters=-1), "report", "a negative count")
    c(with_(REPORT, parameters=1e30), "report", "a count that is a float")
    c(with_(REPORT, test_error="low"), "report", "an error that is a string")
    c(with_(REPORT, config=with_(CONFIG, precision="f16")), "report", "an unknown precision")
    c(with_(REPORT, config=with_(CONFIG, train_size=0)), "config", "train_size 0")
    c(with_(REPORT, config=with_(CONFIG, network=net([784], units=[], tied=True))), "config",
      "a one-layer network (evaluated to error 0.0)")
    c(with_(REPORT, config=with_(CONFIG, network=net([784, 2, 3], units=["linear"], tied=True))),
      "config", "units shorter than layers")
    c(with_(REPORT, config=with_(CONFIG, network=net([784, 10 ** 12], units=["linear"], tied=True))),
      "too_large", "a network of 10^12 units")
    case("report", "/dev/zero", "too_large", "an endless device (read up to 16 MiB)")
    case("report", "report/absent.json", "io", "a missing file")


# ---------------------------------------------------------------- run folders
def runs():
    S = [4, 3, 2]
    good_params = st_bytes(params_tensors(S), {"network": json.dumps(net(S))})
    good_ckpt = ckpt()

    def folder(name, files, kind, reason):
        for f, data in files.items():
            put("run/%s/%s" % (name, f), data)
        if not files:
            put("run/%s/.keep" % name, b"")
        case("run", "run/" + name, kind, reason)

    rep = json.dumps(REPORT, indent=2)
    folder("good", {"params.safetensors": good_params, "report.json": rep,
                    "checkpoint.safetensors": good_ckpt}, "ok", "params, report, checkpoint")
    folder("no-params", {"report.json": rep}, "io", "no params.safetensors")
    folder("no-report", {"params.safetensors": good_params}, "io", "no report.json")
    folder("empty", {}, "io", "an empty folder")
    folder("params-nan", {"params.safetensors": st_bytes(
        [(a, b, c_, struct.pack("<f", float("nan")) * (len(d) // 4)) for a, b, c_, d in params_tensors(S)],
        {"network": json.dumps(net(S))}), "report.json": rep}, "non_finite", "params all NaN")
    folder("network-short-units", {"params.safetensors": st_bytes(
        params_tensors(S), {"network": json.dumps(net(S, units=["linear"]))}), "report.json": rep},
        "network", "unit list shorter than layers")
    folder("network-vs-tensors", {"params.safetensors": st_bytes(
        params_tensors([4, 3, 2]), {"network": json.dumps(net([4, 5, 2]))}), "report.json": rep},
        "tensor_length", "metadata disagreeing with the tensors")
    folder("report-bad", {"params.safetensors": good_params, "report.json": "{"}, "report_json",
           "a damaged report")
    folder("checkpoint-nan", {"params.safetensors": good_params, "report.json": rep,
                              "checkpoint.safetensors": ckpt(current=struct.pack("<f", float("nan")) * X_LEN)},
           "non_finite", "a NaN checkpoint beside good results")
    folder("checkpoint-short", {"params.safetensors": good_params, "report.json": rep,
                                "checkpoint.safetensors": ckpt(current=vec(X_LEN - 2))},
           "tensor_length", "a checkpoint a few values short")
    folder("velocity-wrong", {"params.safetensors": good_params, "report.json": rep,
                              "checkpoint.safetensors": ckpt(velocity=vec(X_LEN + 1))},
           "velocity_length", "a momentum velocity of the wrong length")
    folder("report-one-layer", {"params.safetensors": good_params, "report.json": json.dumps(
        with_(REPORT, config=with_(CONFIG, network=net([784], units=[], tied=True))))},
           "config", "a report of a one-layer network")


# ---------------------------------------------------------------- command lines
def clis():
    n = [0]

    def c(args, kind, phrase, reason):
        n[0] += 1
        case("cli", put("cli/%03d.args" % n[0], "\n".join(args) + "\n"), kind, reason, phrase)

    big = "more than the limit"
    c(["eval", "x + 1", "-v", "x=2"], "ok", "-", "a valid evaluation")
    c(["eval", "sum(x)", "-v", "x=[[1, 2], [3, 4]]"], "ok", "-", "a valid list")
    c(["grad", "log(1 + exp(x))", "--wrt", "x"], "ok", "-", "a valid gradient")
    c(["eval", "sum(x)", "-v", "x=@{C}/npy/001.npy"], "ok", "-", "a valid .npy")
    c(["train", "--layers", "784,1000000000000,30", "--out", "r"], "refused", big, "absurd --layers")
    c(["train", "--layers", "784,4294967296,4294967296", "--out", "r"], "refused", "configuration",
      "--layers whose parameter count overflows")
    c(["train", "--layers", "784", "--out", "r"], "refused", "at least 2 layer sizes", "one layer")
    c(["train", "--layers", "784,0,2", "--out", "r"], "refused", "positive", "a layer of 0")
    c(["train", "--layers", "100,2", "--out", "r"], "refused", "784", "the wrong input size")
    c(["train", "--layers", "784,2", "--units", "logistic,linear", "--out", "r"], "refused",
      "unit types", "more units than layers")
    c(["train", "--batch", "0", "--out", "r"], "refused", "--batch must be at least 1", "--batch 0")
    # A batch beyond the training set is the training set (valid); with a training set of
    # 10^12 images it is refused for its memory.
    c(["train", "--batch", "1000000000000", "--train-size", "1000000000000", "--out", "r"],
      "refused", big, "absurd --batch and --train-size")
    c(["train", "--pretrain-batch", "0", "--out", "r"], "refused", "at least 1", "--pretrain-batch 0")
    c(["train", "--train-size", "1000000000000", "--out", "r"], "refused", big, "absurd --train-size")
    c(["train", "--test-size", "1000000000000", "--out", "r"], "refused", big, "absurd --test-size")
    c(["train", "--train-size", "0", "--out", "r"], "refused", "must be at least 1",
      "--train-size 0")
    c(["train", "--threads", "100000", "--out", "r"], "refused", "--threads 100000",
      "--threads 100000 (spawned threads for ever)")
    c(["train", "--threads", "0", "--out", "r"], "refused", "--threads 0", "--threads 0")
    c(["train", "--precision", "f64", "--layers", "784,100000,100000,100000", "--out", "r"],
      "refused", big, "a network of 2.6 TB")
    c(["train", "--preset", "nosuch", "--out", "r"], "refused", "nosuch", "an unknown preset")
    c(["explain", "sum(x)", "--shape", "x=100000,100000"], "refused", "memory limit",
      "--shape of 10^10 elements (aborted allocating 80 GB)")
    c(["explain", "sum(x)", "--shape", "x=100000,100000,100000"], "refused", "memory limit",
      "--shape of 10^15 elements")
    c(["explain", "sum(x)", "--shape", "x=4294967296,4294967296"], "refused", "memory limit",
      "--shape whose count wraps")
    c(["grad", "x", "--wrt", "x", "--shape", "x=100000,100000"], "refused", "grad needs a scalar",
      "a non-scalar cost")
    c(["grad", "sum(x)", "--wrt", "x", "--shape", "x=x"], "refused", "not a size", "--shape x=x")
    c(["eval", "x", "-v", "x=@/dev/zero"], "refused", "not a .npy file", "@/dev/zero")
    c(["eval", "x", "-v", "x=@{C}/npy/absent.npy"], "refused", "absent.npy", "a missing .npy")
    c(["eval", "x", "-v", "x=" + "[" * 60000 + "1" + "]" * 60000], "refused", "nested deeper than 64",
      "-v nesting 60000 deep (the stack overflow; 10^5 is past Linux's 128 KiB per argument)")
    c(["eval", "x", "-v", "x=[1,[2]]"], "refused", "a list where a number was expected", "a bad list")
    c(["eval", "x", "-v", "x=[[1],[2,3]]"], "refused", "ragged", "a ragged list")
    c(["eval", "x", "-v", "x"], "refused", "NAME=VALUE", "no =")
    c(["eval", "x", "-v", "x=abc"], "refused", "not a number", "not a number")
    c(["eval", "x", "-v", "x=[1] [2]"], "refused", "after the value", "text after the value")
    c(["eval", "sum(x"], "refused", "in the expression", "an unclosed call")
    c(["eval", "(" * 30000 + "1" + ")" * 30000], "refused", "nest deeper", "an expression 30000 deep")
    c(["eval", "sum(pad[axis=0, start=0, total=9223372036854775807](x))", "-v", "x=[1, 2]"], "refused",
      "more elements", "a pad to 2^64 (the SIGSEGV)")
    c(["eval", "x + y", "-v", "x=[1, 2]", "-v", "y=[1, 2, 3]"], "refused", "in the expression",
      "shapes that do not broadcast")
    c(["eval", "x"], "refused", "no value for `x`", "no value")
    for i, npy in enumerate(["015", "020", "030", "043", "047", "051"]):
        c(["eval", "x", "-v", "x=@{C}/npy/%s.npy" % npy], "refused", "npy", "a damaged .npy file through -v")
    c(["eval", "{C}/run/params-nan"], "refused", "NaN", "a run folder with NaN parameters")
    c(["eval", "{C}/run/network-vs-tensors"], "refused", "expected", "metadata disagreeing with the tensors")
    c(["eval", "{C}/run/network-short-units"], "refused", "unit types", "a unit list shorter than layers")
    c(["encode", "{C}/run/params-nan", "--out", "codes.csv"], "refused", "NaN", "encode of NaN parameters")
    c(["reconstruct", "{C}/run/report-bad", "--out", "r.png"], "refused", "report.json", "a damaged report")
    c(["train", "--layers", "784,abc"], "usage", "invalid value", "a size that is not a number")
    c(["train", "--layers", "784,-5"], "usage", "invalid", "a negative size")
    c(["train", "--threads", "99999999999999999999999"], "usage", "invalid value", "threads past u64")
    c(["frobnicate"], "usage", "unrecognized subcommand", "no such command")


def main():
    for d in ["expr", "values", "npy", "idx", "mnist", "params", "checkpoint", "report", "run", "cli"]:
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    expressions()
    values()
    npys()
    idxs()
    mnist_dirs()
    params()
    checkpoints()
    reports()
    runs()
    clis()
    with open(os.path.join(HERE, "manifest.tsv"), "w") as f:
        f.write("# target\tcase\tkind\tphrase\treason (written by make.py: edit that, not this)\n")
        for r in ROWS:
            f.write("\t".join(r) + "\n")
    counts = {}
    for r in ROWS:
        counts[r[0]] = counts.get(r[0], 0) + 1
    print(len(ROWS), "cases:", ", ".join("%s %d" % kv for kv in sorted(counts.items())))


if __name__ == "__main__":
    main()
