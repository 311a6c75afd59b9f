#!/usr/bin/env python3
"""Converts the original MTT code's PyTorch files to clmtt's files and back (docs/formats.md#pt-files).

  convert_pt.py buffer SRC DST --dataset=D --model=M [--zca] [--lr_teacher=X] [--subset=S --res=R]
      SRC: a replay_buffer_<n>.pt file or a folder of them (a list of experts, each a list of
      snapshots, each a list of tensors in parameters() order). DST: a --buffer_path root; the
      files go where `clmtt distill --buffer_path=DST` looks: DST/<dataset>[_NO_ZCA]/<model>/
      (ImageNet: DST/ImageNet/<subset>/<res>/<model>/) replay_buffer_<n>.safetensors.
  convert_pt.py set IMAGES.pt OUT.safetensors --dataset=D --model=M [--zca] [--lr=X]
      images_<x>.pt with labels_<x>.pt (hard [N] or DATM's soft [N, K]) and lr_<x>.pt beside it.
  convert_pt.py to-pt FILE.safetensors OUT_DIR
      a set file -> images_<x>.pt, labels_<x>.pt, lr_<x>.pt (and images_zca_<x>.pt for ZCA sets);
      a trajectory file -> replay_buffer_<n>.pt in the original's nested-list layout.

Reading needs only NumPy: a restricted unpickler rebuilds tensors from torch.save's zip format and
refuses every global but the tensor-rebuild ones, so a .pt file cannot run code here (torch.load
of an untrusted file can). Writing .pt files needs PyTorch, and says so when it is missing.
The parameter layout a buffer is checked against comes from `clmtt info --model M --dataset D
--json` (the clmtt binary: --clmtt, $CLMTT_BIN, build/clmtt of this checkout, or clmtt on PATH).
"""

import argparse
import collections
import io
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import zipfile

try:
    import numpy as np
except ImportError:  # the message names the Debian package; nothing works without NumPy
    sys.exit("convert_pt.py: NumPy is needed (Debian: apt-get install python3-numpy)")

GENERATOR = "clmtt convert_pt.py"
NO_ZCA_SUFFIX = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100")


class ConvertError(Exception):
    """A refusal with a message for the user (the file and what is wrong)."""


# ------------------------------------------------------------------ reading .pt

# Storage classes of torch.save's pickles and the element type each holds.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}


class _StorageType:
    """Stands for torch.<X>Storage inside the pickle: only its element type is used."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    """torch._utils._rebuild_tensor(_v2): a view of the storage -> a NumPy array (a copy)."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        if offset >= storage.size:
            raise ConvertError("a 0-d tensor lies outside its storage")
        return np.array(storage[offset])
    need = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 if all(size) else offset
    if any(s < 0 for s in stride) or need > storage.size:
        raise ConvertError("a tensor of shape %s lies outside its storage" % (size,))
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * item for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data, _requires_grad, _hooks, *_rest):
    """torch._utils._rebuild_parameter: an nn.Parameter is its data here."""
    return data


# The only globals a .pt file may name. Everything else (os.system, builtins.eval, any class
# with a __reduce__, ...) is refused before it is looked up.
ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
for _name in STORAGE_DTYPES:
    ALLOWED_GLOBALS[("torch", _name)] = _StorageType(_name)


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fileobj, zf, prefix, path, big_endian):
        super().__init__(fileobj)
        self.zf, self.prefix, self.path, self.big_endian = zf, prefix, path, big_endian
        self.storages = {}

    def find_class(self, module, name):
        obj = ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise ConvertError("%s: refused: the pickle names the global %s.%s, which is not a tensor "
                               "(this file may run code when loaded with torch.load)" % (self.path, module, name))
        return obj

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise ConvertError("%s: refused: unknown persistent id %r" % (self.path, pid[:2] if isinstance(pid, tuple) else pid))
        stype, key = pid[1], str(pid[2])
        if key in self.storages:
            return self.storages[key]
        try:
            raw = self.zf.read(self.prefix + "data/" + key)
        except KeyError:
            raise ConvertError("%s: the storage %s is missing from the archive" % (self.path, key))
        if stype.dtype == "bfloat16":  # the high half of a float32
            u = np.frombuffer(raw, dtype=">u2" if self.big_endian else "<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            dt = np.dtype(stype.dtype)
            if len(raw) % dt.itemsize:
                raise ConvertError("%s: storage %s has %d bytes, not a whole number of %s" % (self.path, key, len(raw), dt))
            arr = np.frombuffer(raw, dtype=dt.newbyteorder(">" if self.big_endian else "<")).astype(dt)
        self.storages[key] = arr
        return arr


def load_pt(path):
    """The object a torch.save zip file holds, with tensors as NumPy arrays; never runs code."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ConvertError("%s: no such file" % path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            head = f.read(8)
        if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04") or head[:1] == b"\x8a":
            raise ConvertError("%s: the legacy (pre-1.6) torch.save format is not read; re-save it with "
                               "torch.save(torch.load(f), f) in a trusted PyTorch" % path)
        raise ConvertError("%s: not a torch.save file (not a zip archive)" % path)
    with zf:
        pkls = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise ConvertError("%s: not a torch.save archive (no <name>/data.pkl)" % path)
        prefix = pkls[0][: -len("data.pkl")]
        big = False
        if prefix + "byteorder" in zf.namelist():
            big = zf.read(prefix + "byteorder").strip() == b"big"
        up = RestrictedUnpickler(io.BytesIO(zf.read(pkls[0])), zf, prefix, path, big)
        try:
            return up.load()
        except ConvertError:
            raise
        except Exception as e:  # a malformed pickle: no code ran, say what broke
            raise ConvertError("%s: cannot read the pickle: %s: %s" % (path, type(e).__name__, e))


# ------------------------------------------------------------------ writing .pt (PyTorch)

def import_torch():
    if os.environ.get("CLMTT_CONVERT_NO_TORCH") == "1":  # lets the tests see the message
        torch = None
    else:
        try:
            import torch
        except ImportError:
            torch = None
    if torch is None:
        raise ConvertError("writing .pt files needs PyTorch, which is not importable by %s "
                           "(Debian: apt-get install python3-torch; or pip install torch). Reading .pt files "
                           "does not need it." % sys.executable)
    return torch


def save_pt(obj, path):
    """torch.save of obj with its NumPy arrays as tensors, atomically."""
    torch = import_torch()

    def conv(o):
        if isinstance(o, np.ndarray):
            return torch.from_numpy(np.array(o, order="C"))   # keeps 0-d arrays 0-d
        if isinstance(o, list):
            return [conv(x) for x in o]
        return o

    tmp = "%s.tmp.%d" % (path, os.getpid())
    torch.save(conv(obj), tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------ safetensors

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
             "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
ST_NAMES = {np.dtype(v).str: k for k, v in ST_DTYPES.items()}


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, array or list of arrays to concatenate, dtype name, shape).
    The header is padded with spaces to a multiple of 8 (as clmtt writes), data in order;
    written to <path>.tmp.<pid>, flushed and renamed."""
    header, off = {}, 0
    for name, _parts, dt, shape in tensors:
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(ST_DTYPES[dt]).itemsize
        header[name] = {"dtype": dt, "shape": [int(s) for s in shape], "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for name, parts, dt, shape in tensors:
                for p in parts if isinstance(parts, list) else [parts]:
                    f.write(np.ascontiguousarray(p, dtype=np.dtype(ST_DTYPES[dt]).newbyteorder("<")).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_safetensors(path):
    """(tensors as NumPy arrays, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ConvertError("%s: too short for a safetensors file" % path)
    (hl,) = struct.unpack("<Q", raw[:8])
    if hl > len(raw) - 8:
        raise ConvertError("%s: header length %d exceeds the file" % (path, hl))
    try:
        header = json.loads(raw[8:8 + hl])
    except ValueError as e:
        raise ConvertError("%s: the header is not JSON: %s" % (path, e))
    meta = header.pop("__metadata__", {}) or {}
    out, base = {}, 8 + hl
    for name, t in header.items():
        dt = ST_DTYPES.get(t["dtype"])
        if dt is None:
            raise ConvertError("%s: tensor %s has the unsupported dtype %s" % (path, name, t["dtype"]))
        b, e = t["data_offsets"]
        arr = np.frombuffer(raw, dtype=np.dtype(dt).newbyteorder("<"), count=(e - b) // np.dtype(dt).itemsize,
                            offset=base + b)
        out[name] = arr.reshape(t["shape"]).astype(dt)
    return out, meta


# ------------------------------------------------------------------ the model's layout (clmtt info)

def find_clmtt(given):
    if given:
        return given
    if os.environ.get("CLMTT_BIN"):
        return os.environ["CLMTT_BIN"]
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(os.environ.get("CLMTT_BUILD_DIR", ""), "clmtt"),
                 os.path.join(here, "..", "build", "clmtt")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    p = shutil.which("clmtt")
    if p:
        return p
    raise ConvertError("the clmtt binary is needed for the model's parameter layout: build it (tools/build.sh), "
                       "or give --clmtt PATH or CLMTT_BIN")


def model_layout(args):
    cmd = [find_clmtt(args.clmtt), "info", "--model", args.model, "--dataset", args.dataset, "--json"]
    if args.subset:
        cmd += ["--subset", args.subset]
    if args.res:
        cmd += ["--res", str(args.res)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        raise ConvertError("%s: %s" % (" ".join(cmd), r.stderr.strip() or "exit %d" % r.returncode))
    return json.loads(r.stdout)


# ------------------------------------------------------------------ buffer

def expert_dir(dst, args, layout):
    if layout["dataset"] == "ImageNet":
        return os.path.join(dst, "ImageNet", layout.get("subset", args.subset), str(layout["input"][1]), args.model)
    suffix = "_NO_ZCA" if not args.zca and args.dataset in NO_ZCA_SUFFIX else ""
    return os.path.join(dst, args.dataset + suffix, args.model)


def shape_str(s):
    return "[" + ", ".join(str(int(x)) for x in s) + "]"


def check_buffer(path, buf, layout):
    """The nested lists [expert][snapshot][tensor] against the layout; returns (E, S)."""
    tensors = layout["tensors"]
    if not isinstance(buf, list) or not buf:
        raise ConvertError("%s: expected a non-empty list of experts, found %s" % (path, type(buf).__name__))
    snaps = None
    for e, expert in enumerate(buf):
        if not isinstance(expert, list) or not expert:
            raise ConvertError("%s: expert %d is not a non-empty list of snapshots" % (path, e))
        if snaps is None:
            snaps = len(expert)
        elif len(expert) != snaps:
            raise ConvertError("%s: expert %d has %d snapshots, expert 0 has %d" % (path, e, len(expert), snaps))
        for s, snap in enumerate(expert):
            if not isinstance(snap, list):
                raise ConvertError("%s: expert %d snapshot %d is not a list of tensors" % (path, e, s))
            if len(snap) != len(tensors):
                raise ConvertError("%s: expert %d snapshot %d holds %d tensors, but %s on %s has %d"
                                   % (path, e, s, len(snap), layout["model"], layout["dataset"], len(tensors)))
            for i, (t, want) in enumerate(zip(snap, tensors)):
                if not isinstance(t, np.ndarray) or list(t.shape) != list(want["shape"]):
                    got = shape_str(t.shape) if isinstance(t, np.ndarray) else type(t).__name__
                    raise ConvertError("%s: expert %d snapshot %d tensor %d (%s) has shape %s, expected %s"
                                       % (path, e, s, i, want["name"], got, shape_str(want["shape"])))
                if t.dtype.kind not in "fiu":
                    raise ConvertError("%s: tensor %s is %s, not numbers" % (path, want["name"], t.dtype))
    if snaps < 2:
        raise ConvertError("%s: %d snapshot per expert; a trajectory needs at least 2" % (path, snaps))
    return len(buf), snaps


def cmd_buffer(args):
    layout = model_layout(args)
    if os.path.isdir(args.src):
        names = sorted((n for n in os.listdir(args.src) if re.fullmatch(r"replay_buffer_\d+\.pt", n)),
                       key=lambda n: int(n[14:-3]))
        if not names:
            raise ConvertError("%s: no replay_buffer_<n>.pt files" % args.src)
        srcs = [os.path.join(args.src, n) for n in names]
    else:
        srcs = [args.src]
    out = expert_dir(args.dst, args, layout)
    c, h, w = layout["input"]
    param_layout = json.dumps([[t["name"], t["shape"]] for t in layout["tensors"]])
    for src in srcs:
        m = re.fullmatch(r"replay_buffer_(\d+)\.pt", os.path.basename(src))
        idx = int(m.group(1)) if m else 0
        if not m:
            while os.path.exists(os.path.join(out, "replay_buffer_%d.safetensors" % idx)):
                idx += 1
        dst = os.path.join(out, "replay_buffer_%d.safetensors" % idx)
        if os.path.exists(dst) and not args.force:
            raise ConvertError("%s exists (give --force to replace it)" % dst)
        buf = load_pt(src)
        E, S = check_buffer(src, buf, layout)
        os.makedirs(out, exist_ok=True)
        P = layout["num_params"]
        parts = [np.asarray(t, dtype=np.float32).reshape(-1) for expert in buf for snap in expert for t in snap]
        meta = collections.OrderedDict([
            ("format", "mtt-trajectories/1"), ("model", args.model), ("dataset", layout["dataset"]),
            ("channel", c), ("height", h), ("width", w), ("num_classes", layout["num_classes"]),
            ("zca", "true" if args.zca else "false"), ("train_epochs", S - 1),
            ("param_layout", param_layout), ("num_params", P), ("source", os.path.basename(src)),
            ("generator", GENERATOR)])
        if args.lr_teacher is not None:
            meta["lr_teacher"] = repr(float(args.lr_teacher))
        write_safetensors(dst, [("trajectories", parts, "F32", [E, S, P])], meta)
        print("%s -> %s (%d expert%s, %d snapshots, %d parameters)" % (src, dst, E, "" if E == 1 else "s", S, P))


# ------------------------------------------------------------------ sets

def sibling(images_path, kind):
    """images_<x>.pt -> <kind>_<x>.pt in the same folder."""
    d, b = os.path.split(images_path)
    if not b.startswith("images_") or not b.endswith(".pt"):
        raise ConvertError("%s: the name is not images_<x>.pt, so its labels and lr files cannot be found" % images_path)
    return os.path.join(d, kind + b[len("images"):])


def as_array(obj, path, what):
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, (int, float)):
        return np.array(obj)
    raise ConvertError("%s: expected a tensor (%s), found %s" % (path, what, type(obj).__name__))


def cmd_set(args):
    layout = model_layout(args)
    c, h, w = layout["input"]
    k = layout["num_classes"]
    images = as_array(load_pt(args.images), args.images, "images").astype(np.float32)
    if images.ndim != 4 or list(images.shape[1:]) != [c, h, w]:
        raise ConvertError("%s: images have shape %s, expected [N, %d, %d, %d] for %s on %s"
                           % (args.images, shape_str(images.shape), c, h, w, args.model, args.dataset))
    n = images.shape[0]
    lpath, rpath = sibling(args.images, "labels"), sibling(args.images, "lr")
    if not os.path.exists(lpath):
        raise ConvertError("%s: no labels file %s beside it" % (args.images, lpath))
    labels = as_array(load_pt(lpath), lpath, "labels")
    soft = None
    if labels.ndim == 2:  # DATM's learned soft labels: one row of K logits or probabilities per image
        if labels.shape != (n, k):
            raise ConvertError("%s: soft labels have shape %s, expected [%d, %d]" % (lpath, shape_str(labels.shape), n, k))
        soft = labels.astype(np.float32)
        hard = soft.argmax(axis=1).astype(np.int64)
    elif labels.ndim == 1 and labels.shape[0] == n:
        hard = labels.astype(np.int64)
        if labels.dtype.kind == "f" and not np.array_equal(hard, labels):
            raise ConvertError("%s: labels are not whole numbers" % lpath)
    else:
        raise ConvertError("%s: labels have shape %s, expected [%d] or [%d, %d]" % (lpath, shape_str(labels.shape), n, n, k))
    if hard.min() < 0 or hard.max() >= k:
        raise ConvertError("%s: labels must be classes 0..%d of %s" % (lpath, k - 1, args.dataset))
    if os.path.exists(rpath):
        lr = as_array(load_pt(rpath), rpath, "lr").astype(np.float32).reshape(-1)
        if lr.size != 1:
            raise ConvertError("%s: lr holds %d values, expected 1" % (rpath, lr.size))
    elif args.lr is not None:
        lr = np.array([args.lr], np.float32)
    else:
        raise ConvertError("%s: no lr file %s beside it; give the step size with --lr" % (args.images, rpath))
    x = os.path.basename(args.images)[len("images_"):-len(".pt")]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    meta = collections.OrderedDict([("format", "mtt-synset/1"), ("dataset", layout["dataset"]), ("model", args.model)])
    if n % k == 0:
        meta["ipc"] = n // k
    meta["zca"] = "true" if args.zca else "false"
    if x.isdigit():
        meta["iteration"] = x
    if layout["dataset"] == "ImageNet":
        meta["subset"] = layout.get("subset", args.subset)
        meta["res"] = h
    meta["label_kind"] = "soft" if soft is not None else "hard"
    meta["source"] = os.path.basename(args.images)
    meta["generator"] = GENERATOR
    tensors = [("images", images, "F32", images.shape), ("labels", hard, "I64", [n]), ("lr", lr, "F32", [1])]
    zpath = sibling(args.images, "images_zca")
    if args.zca and os.path.exists(zpath):
        z = as_array(load_pt(zpath), zpath, "images_zca").astype(np.float32)
        if z.shape != images.shape:
            raise ConvertError("%s: shape %s, but the images are %s" % (zpath, shape_str(z.shape), shape_str(images.shape)))
        tensors.append(("images_zca", z, "F32", z.shape))
    if soft is not None:
        tensors.append(("soft_labels", soft, "F32", soft.shape))
    write_safetensors(args.out, tensors, meta)
    print("%s -> %s (%d images, %s labels, lr %g)" % (args.images, args.out, n, meta["label_kind"], float(lr[0])))


def cmd_to_pt(args):
    tensors, meta = read_safetensors(args.file)
    fmt = meta.get("format")
    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.basename(args.file)
    stem = stem[: -len(".safetensors")] if stem.endswith(".safetensors") else stem
    if fmt == "mtt-synset/1":
        for need in ("images", "labels", "lr"):
            if need not in tensors:
                raise ConvertError("%s: no tensor %s" % (args.file, need))
        x = stem[len("images_"):] if stem.startswith("images_") else stem
        written = []
        # As the original saves them: images [N, C, H, W] float32, labels int64 [N] (or DATM's
        # soft rows [N, K] float32), the step size as a 0-d float32 tensor.
        outs = [("images", tensors["images"].astype(np.float32)),
                ("labels", tensors["soft_labels"] if "soft_labels" in tensors else tensors["labels"].astype(np.int64)),
                ("lr", np.array(tensors["lr"].reshape(-1)[0], dtype=np.float32))]
        if "images_zca" in tensors:
            outs.append(("images_zca", tensors["images_zca"].astype(np.float32)))
        for kind, arr in outs:
            p = os.path.join(args.out_dir, "%s_%s.pt" % (kind, x))
            save_pt(arr, p)
            written.append(p)
        print("%s -> %s" % (args.file, ", ".join(written)))
    elif fmt == "mtt-trajectories/1":
        t = tensors.get("trajectories")
        if t is None or t.ndim != 3:
            raise ConvertError("%s: no tensor trajectories [E, S, P]" % args.file)
        if "param_layout" not in meta:
            raise ConvertError("%s: no param_layout metadata to split the snapshots by" % args.file)
        lay = json.loads(meta["param_layout"])
        sizes = [int(np.prod(s, dtype=np.int64)) for _n, s in lay]
        if sum(sizes) != t.shape[2]:
            raise ConvertError("%s: param_layout covers %d values, the snapshots hold %d" % (args.file, sum(sizes), t.shape[2]))
        buf = []
        for e in range(t.shape[0]):
            expert = []
            for s in range(t.shape[1]):
                flat, off, snap = t[e, s], 0, []
                for (_n, shape), sz in zip(lay, sizes):
                    snap.append(flat[off:off + sz].reshape(shape).copy())
                    off += sz
                expert.append(snap)
            buf.append(expert)
        m = re.fullmatch(r"replay_buffer_(\d+)", stem)
        p = os.path.join(args.out_dir, "replay_buffer_%s.pt" % (m.group(1) if m else stem))
        save_pt(buf, p)
        print("%s -> %s (%d experts, %d snapshots)" % (args.file, p, t.shape[0], t.shape[1]))
    else:
        raise ConvertError("%s: not a clmtt set or trajectory file (format %s)" % (args.file, fmt))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def model_flags(p):
        p.add_argument("--dataset", required=True, help="the catalog name: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet")
        p.add_argument("--model", required=True, help="the network the files are of (clmtt's --model name)")
        p.add_argument("--subset", default=None, help="ImageNet subset")
        p.add_argument("--res", type=int, default=None, help="ImageNet resolution")
        p.add_argument("--zca", action="store_true", help="the data was ZCA-whitened")
        p.add_argument("--clmtt", default=None, help="the clmtt binary (default: $CLMTT_BIN, build/clmtt, PATH)")

    b = sub.add_parser("buffer", help="replay_buffer_<n>.pt file(s) -> trajectory files")
    b.add_argument("src")
    b.add_argument("dst")
    model_flags(b)
    b.add_argument("--lr_teacher", type=float, default=None, help="recorded in the metadata")
    b.add_argument("--force", action="store_true", help="replace existing files")
    s = sub.add_parser("set", help="images_<x>.pt (+ labels_<x>.pt, lr_<x>.pt) -> a set file")
    s.add_argument("images")
    s.add_argument("out")
    model_flags(s)
    s.add_argument("--lr", type=float, default=None, help="the step size when there is no lr_<x>.pt")
    t = sub.add_parser("to-pt", help="a set or trajectory file -> .pt files the original loads")
    t.add_argument("file")
    t.add_argument("out_dir")
    args = ap.parse_args(argv)
    try:
        {"buffer": cmd_buffer, "set": cmd_set, "to-pt": cmd_to_pt}[args.cmd](args)
    except ConvertError as e:
        print("convert_pt.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
