#!/usr/bin/env python3
"""tools/bench/torch_peer.py, the PyTorch peer of tools/bench.sh: its flat parameter layout
against `clmtt info`, its functional ConvNet against the same network built from torch.nn
modules, its crop and cutout against loops over the same draws, its meta-gradient (step size
and images) against central differences of its own loss in float64 at fixed draws, one run's
JSON line, a bad flag named, and exit 77 without torch. Needs PyTorch (the .sh skips without)."""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

import torch

SRC = os.environ.get("CLMTT_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PEER = os.path.join(SRC, "tools", "bench", "torch_peer.py")
sys.path.insert(0, os.path.dirname(PEER))
import torch_peer as tp  # noqa: E402

CLMTT = os.environ.get("CLMTT_BIN") or os.path.join(SRC, "build", "clmtt")


def clmtt_layout(dataset):
    """The tensor shapes `clmtt info --model=ConvNet` lists, in order."""
    out = subprocess.run([CLMTT, "info", "--model=ConvNet", "--dataset=" + dataset], check=True,
                         capture_output=True, text=True).stdout
    return [tuple(int(v) for v in m.group(1).split(",")) for m in re.finditer(r"\[([0-9, ]+)\]\s+\d+\s+\[", out)]


class Layout(unittest.TestCase):
    def test_shapes_match_clmtt(self):
        for ds in ("FashionMNIST", "CIFAR10"):
            c, h, _, k = tp.DATASETS[ds]
            want = clmtt_layout(ds)
            self.assertEqual(len(want), 14, "could not read clmtt info's table for %s" % ds)
            self.assertEqual(tp.convnet_shapes(c, h, k), want, ds)

    def test_forward_matches_modules(self):
        """The flat vector in registration order drives the same network as nn modules."""
        torch.manual_seed(3)
        for ds in ("FashionMNIST", "CIFAR10"):
            c, h, w, k = tp.DATASETS[ds]
            layers, cin = [], c
            for d in range(tp.DEPTH):
                layers += [torch.nn.Conv2d(cin, tp.WIDTH, 3, padding=3 if d == 0 and c == 1 else 1),
                           torch.nn.GroupNorm(tp.WIDTH, tp.WIDTH), torch.nn.ReLU(), torch.nn.AvgPool2d(2)]
                cin = tp.WIDTH
            net = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(tp.WIDTH * 16, k))
            shapes = tp.convnet_shapes(c, h, k)
            flat = torch.randn(sum(torch.Size(s).numel() for s in shapes)) * 0.1
            torch.nn.utils.vector_to_parameters(flat, net.parameters())
            x = torch.randn(4, c, h, w)
            with torch.no_grad():
                want = net(x)
                got = tp.convnet_forward(flat, shapes, x)
            self.assertTrue(torch.allclose(got, want, rtol=1e-5, atol=1e-5), "%s: max diff %g" % (
                ds, (got - want).abs().max().item()))


class Augment(unittest.TestCase):
    def test_crop_is_a_zero_filled_shift(self):
        x = torch.randn(5, 2, 16, 16)
        torch.manual_seed(11)
        y = tp.crop(x)
        torch.manual_seed(11)
        tx = torch.randint(-2, 3, (5,))
        ty = torch.randint(-2, 3, (5,))
        self.assertTrue(bool((tx != 0).any() or (ty != 0).any()), "no shift drawn: the check would be empty")
        for n in range(5):
            for i in range(16):
                for j in range(16):
                    si, sj = i + int(tx[n]), j + int(ty[n])
                    want = x[n, :, si, sj] if 0 <= si < 16 and 0 <= sj < 16 else torch.zeros(2)
                    self.assertTrue(torch.equal(y[n, :, i, j], want), (n, i, j))

    def test_cutout_zeroes_the_clipped_square(self):
        x = torch.randn(5, 2, 16, 16)
        torch.manual_seed(12)
        y = tp.cutout(x)
        torch.manual_seed(12)
        ox = torch.randint(0, 17, (5,))
        oy = torch.randint(0, 17, (5,))
        for n in range(5):
            r0, c0 = int(ox[n]) - 4, int(oy[n]) - 4
            for i in range(16):
                for j in range(16):
                    inside = r0 <= i < r0 + 8 and c0 <= j < c0 + 8
                    want = torch.zeros(2) if inside else x[n, :, i, j]
                    self.assertTrue(torch.equal(y[n, :, i, j], want), (n, i, j))


class MetaGradient(unittest.TestCase):
    def test_against_central_differences(self):
        """d loss / d syn_lr and d loss / d images along a random direction, in float64 with the
        same draws for every evaluation (second order: create_graph=True matters here). The
        activation is the original's smooth option (sigmoid): with ReLU a perturbation of 1e-5
        flips units of the million near zero, and the gradient inside the loss jumps."""
        torch.set_default_dtype(torch.float64)
        tp.ACTIVATION = torch.sigmoid
        try:
            run = tp.Distillation(tp.parse_args(["--ipc", "1", "--syn_steps", "2", "--threads", "2"]),
                                  torch.device("cpu"))
            run.syn_lr = torch.tensor(0.05, requires_grad=True)   # a larger step: more curvature in the loss

            def loss_at(images, lr):
                torch.manual_seed(5)
                run.pick = random.Random(5)
                run.images, run.syn_lr = images, lr
                return run.meta_loss()

            images = run.images.detach().clone().requires_grad_(True)
            lr = run.syn_lr.detach().clone().requires_grad_(True)
            g_img, g_lr = torch.autograd.grad(loss_at(images, lr), [images, lr])
            v = torch.randn(images.shape, generator=torch.Generator().manual_seed(9))
            h = 1e-5
            fd_img = (loss_at(images + h * v, lr) - loss_at(images - h * v, lr)).item() / (2 * h)
            fd_lr = (loss_at(images, lr + h) - loss_at(images, lr - h)).item() / (2 * h)
            an_img = float((g_img * v).sum())
            self.assertGreater(abs(an_img), 1e-8, "the image gradient vanished: the check would be empty")
            self.assertAlmostEqual(an_img, fd_img, delta=1e-5 * (abs(fd_img) + 1e-6))
            self.assertAlmostEqual(float(g_lr), fd_lr, delta=1e-5 * (abs(fd_lr) + 1e-6))
        finally:
            torch.set_default_dtype(torch.float32)
            tp.ACTIVATION = torch.nn.functional.relu


class Run(unittest.TestCase):
    def test_one_iteration_json(self):
        r = subprocess.run([sys.executable, PEER, "--dataset", "FashionMNIST", "--ipc", "1", "--syn_steps", "1",
                            "--iterations", "1", "--threads", "1"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        self.assertEqual(len(lines), 1, r.stdout)
        rec = json.loads(lines[0])
        self.assertEqual((rec["dataset"], rec["ipc"], rec["nsyn"], rec["batch_syn"], rec["syn_steps"]),
                         ("FashionMNIST", 1, 10, 10, 1))
        self.assertEqual(rec["parameters"], sum(torch.Size(s).numel() for s in clmtt_layout("FashionMNIST")))
        self.assertEqual((rec["device"], rec["threads"], rec["tf32"], rec["torch"]), ("cpu", 1, None, torch.__version__))
        self.assertTrue(rec["finite"])
        self.assertEqual(len(rec["iteration_seconds"]), 1)
        self.assertGreater(rec["seconds_per_iteration"], 0)
        self.assertGreaterEqual(rec["peak_memory_bytes"], rec["baseline_rss_bytes"])

    def test_bad_flag_is_named(self):
        r = subprocess.run([sys.executable, PEER, "--ipc", "0"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--ipc must be at least 1", r.stderr)

    def test_without_torch_exits_77(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "torch"))
            with open(os.path.join(d, "torch", "__init__.py"), "w") as f:
                f.write("raise ImportError('no torch here')\n")
            env = dict(os.environ, PYTHONPATH=d)
            r = subprocess.run([sys.executable, PEER], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("PyTorch is not installed", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
