#!/usr/bin/env python3
"""tools/convert_pt.py on the committed fixtures (tests/fixtures/pt, made with PyTorch by
make_fixtures.py): expert buffers and sets to clmtt files and back, values compared exactly, a
converted buffer driving `clmtt distill`, shape mismatches named, and pickles that would run
code refused. Needs NumPy; the clmtt binary comes from $CLMTT_BIN. Checks against torch.load
run when PyTorch is importable."""
import contextlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np

SRC = os.environ.get("CLMTT_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(SRC, "tools"))
import convert_pt  # noqa: E402

FIX = os.path.join(SRC, "tests", "fixtures", "pt")
CLMTT = os.environ.get("CLMTT_BIN") or os.path.join(SRC, "build", "clmtt")
try:
    import torch
except ImportError:
    torch = None


def fixture_value(f, e, s, n):
    """The fixture's flat snapshot (make_fixtures.py)."""
    return ((np.arange(n, dtype=np.int64) * 37 + f * 101 + e * 11 + s * 5) % 1000).astype(np.float32) / 10000 - 0.05


def fixture_images():
    return ((np.arange(10 * 784) * 13 % 255) / 64.0 - 2).astype(np.float32).reshape(10, 1, 28, 28)


class Anything:
    """A harmless class: a pickle naming it is refused all the same."""


def convert(*args, env=None):
    """Runs the converter in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = convert_pt.main(list(args) + ([] if args[0] == "to-pt" else ["--clmtt", CLMTT]))
    finally:
        os.environ.clear()
        os.environ.update(old)
    return rc, out.getvalue(), err.getvalue()


def clmtt(*args, cwd=None):
    return subprocess.run([CLMTT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, cwd=cwd)


class ConvertPt(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="clmtt-convert-pt-")
        self.cwd = os.getcwd()
        os.chdir(self.tmp)

    def tearDown(self):
        os.chdir(self.cwd)
        shutil.rmtree(self.tmp)

    def convert_buffer(self):
        rc, out, err = convert("buffer", os.path.join(FIX, "buffer"), "bufs", "--dataset=MNIST",
                               "--model=ConvNetW32", "--lr_teacher=0.01")
        self.assertEqual(rc, 0, err)
        return os.path.join("bufs", "MNIST_NO_ZCA", "ConvNetW32")

    def test_buffer_folder_converts_with_its_layout(self):
        d = self.convert_buffer()
        self.assertEqual(sorted(os.listdir(d)), ["replay_buffer_0.safetensors", "replay_buffer_1.safetensors"])
        layout = json.loads(clmtt("info", "--model", "ConvNetW32", "--dataset", "MNIST", "--json").stdout)
        P = layout["num_params"]
        for f, experts in ((0, 2), (1, 1)):
            t, meta = convert_pt.read_safetensors(os.path.join(d, "replay_buffer_%d.safetensors" % f))
            self.assertEqual(t["trajectories"].shape, (experts, 2, P))
            for e in range(experts):
                for s in range(2):
                    np.testing.assert_array_equal(t["trajectories"][e, s], fixture_value(f, e, s, P))
            self.assertEqual(meta["format"], "mtt-trajectories/1")
            self.assertEqual((meta["model"], meta["dataset"], meta["zca"]), ("ConvNetW32", "MNIST", "false"))
            self.assertEqual((meta["channel"], meta["height"], meta["width"], meta["num_classes"]), ("1", "28", "28", "10"))
            self.assertEqual(json.loads(meta["param_layout"]), [[x["name"], x["shape"]] for x in layout["tensors"]])
            self.assertEqual(float(meta["lr_teacher"]), 0.01)
        r = clmtt("info", os.path.join(d, "replay_buffer_0.safetensors"), os.path.join(d, "replay_buffer_1.safetensors"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A second conversion into the same place does not overwrite.
        rc, _out, err = convert("buffer", os.path.join(FIX, "buffer"), "bufs", "--dataset=MNIST", "--model=ConvNetW32")
        self.assertEqual(rc, 1)
        self.assertIn("exists", err)

    def test_converted_buffer_drives_distill(self):
        d = self.convert_buffer()
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        rng = np.random.default_rng(0)
        for name, n in (("train", 20), ("t10k", 10)):
            img = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            lab = (np.arange(n) % 10).astype(np.uint8)
            with open(os.path.join(data, name + "-images-idx3-ubyte"), "wb") as f:
                f.write(struct.pack(">IIII", 0x803, n, 28, 28) + img.tobytes())
            with open(os.path.join(data, name + "-labels-idx1-ubyte"), "wb") as f:
                f.write(struct.pack(">II", 0x801, n) + lab.tobytes())
        r = clmtt("distill", "--dataset=MNIST", "--data_path=" + data, "--buffer_path=bufs", "--model=ConvNetW32",
                  "--ipc=1", "--syn_steps=2", "--expert_epochs=1", "--max_start_epoch=1", "--Iteration=1",
                  "--num_eval=0", "--seed=1", "--save_path=run")
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        self.assertIn("(2 files)", r.stdout)
        self.assertTrue(os.path.exists(os.path.join("run", "images_last.safetensors")))
        self.assertTrue(os.path.isdir(d))

    def test_shape_mismatch_names_the_tensor(self):
        rc, _out, err = convert("buffer", os.path.join(FIX, "buffer", "replay_buffer_1.pt"), "bufs",
                                "--dataset=MNIST", "--model=ConvNetW64")
        self.assertEqual(rc, 1)
        self.assertIn("features.0.weight", err)
        self.assertIn("[32, 1, 3, 3]", err)
        self.assertIn("[64, 1, 3, 3]", err)
        rc, _out, err = convert("buffer", os.path.join(FIX, "buffer", "replay_buffer_1.pt"), "bufs",
                                "--dataset=MNIST", "--model=MLP")
        self.assertEqual(rc, 1)
        self.assertIn("holds 14 tensors", err)
        self.assertFalse(os.path.exists("bufs"))

    def test_malicious_pickle_refused(self):
        rc, out, err = convert("buffer", os.path.join(FIX, "evil"), "bufs", "--dataset=MNIST", "--model=ConvNetW32")
        self.assertEqual(rc, 1)
        self.assertIn("refused", err)
        self.assertIn("system", err)
        self.assertFalse(os.path.exists("convert_pt_was_fooled"), "the pickle ran its code")
        self.assertFalse(os.path.exists("bufs"))

        # Any class the pickle names is refused, not only the well-known dangerous ones.
        path = os.path.join(self.tmp, "replay_buffer_0.pt")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps([Anything()], protocol=2))
            z.writestr("archive/version", "3\n")
        with self.assertRaises(convert_pt.ConvertError) as cm:
            convert_pt.load_pt(path)
        self.assertIn("Anything", str(cm.exception))
        # A storage view outside its storage is refused too.
        with self.assertRaises(convert_pt.ConvertError):
            convert_pt._rebuild_tensor(np.zeros(4, np.float32), 2, (3,), (1,))

    def set_round_trip(self, src, name, want_labels, want_lr, soft):
        rc, _out, err = convert("set", src, name + ".safetensors", "--dataset=MNIST", "--model=ConvNetW32")
        self.assertEqual(rc, 0, err)
        t, meta = convert_pt.read_safetensors(name + ".safetensors")
        images = convert_pt.load_pt(src)
        np.testing.assert_array_equal(t["images"], images)
        np.testing.assert_array_equal(t["labels"], want_labels.argmax(1) if soft else want_labels)
        self.assertEqual(t["lr"].dtype, np.float32)
        self.assertEqual(t["lr"][0], np.float32(want_lr))
        self.assertEqual(meta["label_kind"], "soft" if soft else "hard")
        if soft:
            np.testing.assert_array_equal(t["soft_labels"], want_labels)
        r = clmtt("info", name + ".safetensors")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)
        if torch is None:
            rc, _out, err = convert("to-pt", name + ".safetensors", "out")
            self.assertEqual(rc, 1)
            self.assertIn("needs PyTorch", err)
            return
        rc, _out, err = convert("to-pt", name + ".safetensors", "out")
        self.assertEqual(rc, 0, err)
        back = {k: convert_pt.load_pt(os.path.join("out", "%s_%s.pt" % (k, name))) for k in ("images", "labels", "lr")}
        np.testing.assert_array_equal(back["images"], t["images"])
        np.testing.assert_array_equal(back["labels"], want_labels)
        self.assertEqual(back["lr"].shape, ())
        self.assertEqual(back["lr"], np.float32(want_lr))
        # What the original's evaluation code gets from torch.load.
        ti = torch.load(os.path.join("out", "images_%s.pt" % name))
        tl = torch.load(os.path.join("out", "labels_%s.pt" % name))
        tr = torch.load(os.path.join("out", "lr_%s.pt" % name))
        self.assertTrue(torch.equal(ti, torch.from_numpy(t["images"])))
        self.assertEqual(tl.dtype, torch.float32 if soft else torch.int64)
        self.assertTrue(torch.equal(tl, torch.from_numpy(want_labels)))
        self.assertEqual(tr.item(), float(np.float32(want_lr)))

    def test_set_round_trip(self):
        self.set_round_trip(os.path.join(FIX, "set", "images_3.pt"), "3", np.arange(10, dtype=np.int64), 0.0123, False)
        _t, meta = convert_pt.read_safetensors("3.safetensors")
        self.assertEqual((meta["format"], meta["dataset"], meta["ipc"], meta["iteration"]), ("mtt-synset/1", "MNIST", "1", "3"))
        np.testing.assert_array_equal(convert_pt.load_pt(os.path.join(FIX, "set", "images_3.pt")), fixture_images())

    def test_soft_label_set_round_trip(self):
        soft = (np.eye(10) * 3 + np.arange(100).reshape(10, 10) / 100).astype(np.float32)
        self.set_round_trip(os.path.join(FIX, "soft", "images_best.pt"), "best", soft, 0.02, True)

    def test_trajectory_round_trip(self):
        d = self.convert_buffer()
        rc, _out, err = convert("to-pt", os.path.join(d, "replay_buffer_0.safetensors"), "out")
        if torch is None:
            self.assertEqual(rc, 1)
            self.assertIn("needs PyTorch", err)
            return
        self.assertEqual(rc, 0, err)
        a = convert_pt.load_pt(os.path.join("out", "replay_buffer_0.pt"))
        b = convert_pt.load_pt(os.path.join(FIX, "buffer", "replay_buffer_0.pt"))
        self.assertEqual([len(e) for e in a], [len(e) for e in b])
        for ea, eb in zip(a, b):
            for sa, sb in zip(ea, eb):
                self.assertEqual(len(sa), len(sb))
                for x, y in zip(sa, sb):
                    np.testing.assert_array_equal(x, y)
        tb = torch.load(os.path.join("out", "replay_buffer_0.pt"))
        self.assertTrue(torch.equal(tb[1][1][0], torch.from_numpy(b[1][1][0])))

    def test_writing_pt_without_pytorch_says_so(self):
        self.convert_buffer()
        rc, _out, err = convert("to-pt", os.path.join("bufs", "MNIST_NO_ZCA", "ConvNetW32", "replay_buffer_1.safetensors"),
                                "out", env={"CLMTT_CONVERT_NO_TORCH": "1"})
        self.assertEqual(rc, 1)
        self.assertIn("writing .pt files needs PyTorch", err)
        self.assertIn("python3-torch", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
