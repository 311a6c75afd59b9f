#!/usr/bin/env python3
"""Converts the Python (pickled) version of CIFAR-10 or CIFAR-100 into the binary version
that clmtt reads.

Usage: python3 tools/cifar_py_to_bin.py <input folder> <output folder>

<input folder> is cifar-10-batches-py (data_batch_1..5, test_batch) or cifar-100-python
(train, test), or a folder that holds one of them. The output folder receives
data_batch_1.bin .. data_batch_5.bin and test_batch.bin (CIFAR-10 records: label byte +
3072 pixel bytes) or train.bin and test.bin (CIFAR-100 records: coarse label byte, fine
label byte, 3072 pixel bytes), plus the class name lists when the meta file is present.
Name the output folder cifar-10-batches-bin (resp. cifar-100-binary) inside the data folder
and clmtt finds it without --data_path.

The pickles are read with Python's pickle module, which can run code stored in the file:
convert only the official archives. Needs NumPy.
"""
import os
import pickle
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    sys.exit("cifar_py_to_bin.py: NumPy is needed (Debian package python3-numpy)")

CIFAR10_BATCHES = [("data_batch_%d" % i, "data_batch_%d.bin" % i) for i in range(1, 6)] + [("test_batch", "test_batch.bin")]
CIFAR100_FILES = [("train", "train.bin"), ("test", "test.bin")]
PIXELS = 3072


def fail(msg):
    sys.exit("cifar_py_to_bin.py: " + msg)


def load_pickle(path):
    """One pickled batch; the archives were written by Python 2, hence encoding='bytes'."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except OSError as e:
        fail("cannot read %s: %s" % (path, e.strerror))
    except Exception as e:  # a damaged pickle raises many different errors
        fail("%s is not a readable pickled CIFAR batch: %s" % (path, e))


def field(batch, key, path):
    if not isinstance(batch, dict) or key not in batch:
        fail("%s has no %r entry" % (path, key.decode()))
    return batch[key]


def pixels(batch, path):
    """The N x 3072 uint8 pixel rows (already R, G, B planes of 32x32, row-major)."""
    data = np.asarray(field(batch, b"data", path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        fail("%s: data is %s %s, expected uint8 rows of %d pixels" % (path, data.dtype, data.shape, PIXELS))
    return data


def labels(batch, key, path, n, top):
    lab = np.asarray(field(batch, key, path)).astype(np.int64).reshape(-1)
    if lab.shape[0] != n:
        fail("%s: %d images but %d %s" % (path, n, lab.shape[0], key.decode()))
    if n and (lab.min() < 0 or lab.max() > top):
        fail("%s: %s outside 0..%d" % (path, key.decode(), top))
    return lab.astype(np.uint8)


def write_atomic(path, data):
    """Writes through a temporary file in the same folder, then renames it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def convert_batches(src, dst, files, label_fields):
    """One record file per pickled batch ((input, output) names in files): per image its
    labels, one byte each in the order of label_fields ((key, largest value) pairs), then
    its pixels."""
    for name, out in files:
        path = os.path.join(src, name)
        batch = load_pickle(path)
        data = pixels(batch, path)
        labs = [labels(batch, key, path, data.shape[0], top)[:, None] for key, top in label_fields]
        rec = np.concatenate(labs + [data], axis=1)
        write_atomic(os.path.join(dst, out), rec.tobytes())
        print("%s: %d records" % (os.path.join(dst, out), data.shape[0]))


def write_names(dst, meta, lists):
    """The class name lists of the meta pickle at meta, when it exists: one text file per
    (key, output name) pair in lists, one name a line."""
    if not os.path.exists(meta):
        return
    m = load_pickle(meta)
    for key, out in lists:
        write_atomic(os.path.join(dst, out), b"".join(n + b"\n" for n in field(m, key, meta)))


def convert_cifar10(src, dst):
    convert_batches(src, dst, CIFAR10_BATCHES, [(b"labels", 9)])
    write_names(dst, os.path.join(src, "batches.meta"), [(b"label_names", "batches.meta.txt")])


def convert_cifar100(src, dst):
    convert_batches(src, dst, CIFAR100_FILES, [(b"coarse_labels", 19), (b"fine_labels", 99)])
    write_names(dst, os.path.join(src, "meta"),
                [(b"fine_label_names", "fine_label_names.txt"), (b"coarse_label_names", "coarse_label_names.txt")])


def python_version_in(d):
    """10 or 100 when folder d holds that Python version, else None."""
    if os.path.isfile(os.path.join(d, "data_batch_1")):
        return 10
    if os.path.isfile(os.path.join(d, "train")) and os.path.isfile(os.path.join(d, "test")):
        return 100
    return None


def find_source(folder):
    """(kind, folder) for the Python version in folder itself or in its usual sub-folder."""
    kind = python_version_in(folder)
    if kind:
        return kind, folder
    found = []
    for sub in ("cifar-10-batches-py", "cifar-100-python"):
        d = os.path.join(folder, sub)
        kind = python_version_in(d)
        if kind:
            found.append((kind, d))
    if len(found) > 1:
        fail("%s holds both %s and %s: name the one to convert" % (folder, found[0][1], found[1][1]))
    if not found:
        fail("%s holds neither cifar-10-batches-py (data_batch_1 ...) nor cifar-100-python (train, test)" % folder)
    return found[0]


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    kind, src = find_source(argv[1])
    dst = argv[2]
    os.makedirs(dst, exist_ok=True)
    if kind == 10:
        convert_cifar10(src, dst)
    else:
        convert_cifar100(src, dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
