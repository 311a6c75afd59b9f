#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ that need no picture library (Python's
standard library only); make_image_seeds.c beside it writes the pictures. Run from anywhere."""
import gzip, json, os, struct

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/fuzz


def put(name, fname, data):
    d = os.path.join(here, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None, pad=0):
    hdr, blob = {}, b""
    for name, dtype, shape, data in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta is not None:
        hdr["__metadata__"] = meta
    h = json.dumps(hdr).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + blob


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "one_f32", safetensors([("w", "F32", [2, 2], f32(1, 2, 3, 4))], {"format": "pt"}))
put("safetensors", "mixed", safetensors([("a", "I32", [3], struct.pack("<3i", 1, -2, 3)),
                                          ("b", "I64", [1, 1], struct.pack("<q", 7)),
                                          ("e", "F32", [0, 4], b""),
                                          ("s", "F32", [], f32(0.5))], {"k": "v", "n": "2"}, pad=5))
put("safetensors", "empty_header", safetensors([]))

img = bytes((i * 7) % 256 for i in range(2 * 28 * 28))
idx_images = struct.pack(">IIII", 0x803, 2, 28, 28) + img
idx_labels = struct.pack(">II", 0x801, 2) + bytes([3, 9])
put("idx", "images", idx_images)
put("idx", "labels", idx_labels)
put("idx", "images.gz", gzip.compress(idx_images, mtime=0))
put("idx", "labels.gz", gzip.compress(idx_labels, mtime=0))

pix = bytes((i * 13) % 256 for i in range(3072))
put("cifar", "cifar10_one", bytes([7]) + pix)
put("cifar", "cifar100_one", bytes([19, 99]) + pix)

for fn in sorted(os.listdir(os.path.join(here, "..", "..", "data", "subsets"))):
    with open(os.path.join(here, "..", "..", "data", "subsets", fn), "rb") as f:
        put("subsets", fn[:-4], f.read())
put("subsets", "indices", b"# by index\n0 tench\n217\n  n01440764 0 fish # comment\n\n999 last\n")

args = lambda *a: b"\0".join(x.encode() for x in a)
put("cli", "forms", args("--syn_steps=20", "--max-start-epoch", "None", "--lr_img", "1e3", "--dataset=MNIST", "--zca"))
put("cli", "bools", args("--zca", "False", "--zca=yes", "--syn-steps", "-5", "--max_start_epoch=3"))
put("cli", "bad", args("--lr_img=nan", "stray"))

# IDX: a label file whose gzip stream inflates to far more than its header claims.
put("idx", "regress-inflates-past-claim.gz",
    gzip.compress(struct.pack(">II", 0x801, 7) + bytes([1, 2, 3, 4, 5, 6, 7]) + bytes(1 << 20), 9, mtime=0))


# Decoded picture caches (host/data/folder_cache.c), native (little-endian) byte order.
def pixel_cache(key, h, w, train, test, skipped=0):
    hdr = b"CLMTTPIC" + struct.pack("<IIQIIIIII", 1, 0x01020304, key, 3, h, w, len(train), len(test), skipped)
    body = b"".join(struct.pack("<i", l) for l in train + test)
    return hdr + body + bytes((i * 37) % 256 for i in range(3 * h * w * (len(train) + len(test))))


put("cache", "two_by_two", pixel_cache(0x0123456789ABCDEF, 2, 2, [0, 9], [3], 1))
put("cache", "empty_test", pixel_cache(42, 4, 3, [1, 2, 5], []))
put("cache", "no_pictures", pixel_cache(7, 2, 2, [], []))
