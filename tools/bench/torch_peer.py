#!/usr/bin/env python3
"""A plain-PyTorch peer of one distillation iteration, for same-run speed and memory ratios.

It does what the original PyTorch implementation of trajectory matching does in one iteration,
written directly against torch: ConvNet (width 128, depth 3, instance norm, ReLU, average
pooling) run functionally over one flat parameter vector; DSA with the strategy
color_crop_cutout_flip_scale_rotate (one group per minibatch, per-sample draws); syn_steps
student SGD steps with create_graph=True, keeping the whole unrolled graph as the original
does; the normalized parameter-matching loss ||theta_K - theta*||^2 / ||theta_0 - theta*||^2;
its backward to the synthetic images and the learned step size; one SGD-momentum update of
each (lr_img 1000, lr_lr 1e-5, momentum 0.5, the original's defaults).

The data are random, with the shape of the dataset (as clmtt bench): images ~ N(0, 1),
class-major labels, theta_0 from the network's initialization and theta* = theta_0 + 0.01 noise.

Prints one JSON line: device, torch version, threads, TF32 (CUDA), seconds per iteration
(the median of --iterations timed iterations after one warm-up), and peak memory (CPU: the
process's peak RSS from getrusage, which includes torch itself -- baseline_rss_bytes says how
much was resident before the first iteration; CUDA: torch.cuda.max_memory_allocated).
Exits 77 when torch is not installed (tools/bench.sh then skips the peer).
"""
import argparse
import json
import math
import os
import random
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_peer.py: PyTorch is not installed for %s (Debian: python3-torch); skipping the peer"
          % sys.executable, file=sys.stderr)
    sys.exit(77)

# name: (channels, height, width, classes)
DATASETS = {
    "MNIST": (1, 28, 28, 10),
    "FashionMNIST": (1, 28, 28, 10),
    "CIFAR10": (3, 32, 32, 10),
    "CIFAR100": (3, 32, 32, 100),
}
WIDTH, DEPTH = 128, 3
ACTIVATION = F.relu   # the test swaps in a smooth one: ReLU's kinks make finite differences of the meta-loss noisy
DSA_GROUPS = ["color", "crop", "cutout", "flip", "scale", "rotate"]


# ---- ConvNet over a flat parameter vector -------------------------------------------------

def convnet_shapes(channels, height, classes):
    """The parameter tensors in registration order: per block conv weight and bias, norm
    weight and bias; then the classifier's weight and bias."""
    shapes = []
    cin, side = channels, height
    for d in range(DEPTH):
        shapes += [(WIDTH, cin, 3, 3), (WIDTH,), (WIDTH,), (WIDTH,)]
        if d == 0 and channels == 1:
            side += 4          # padding 3 around a 3x3 kernel: 28 -> 32
        side //= 2
        cin = WIDTH
    shapes += [(classes, WIDTH * side * side), (classes,)]
    return shapes


def convnet_init(shapes, gen):
    """Uniform(+-1/sqrt(fan_in)) weights and biases; norm scale 1 and shift 0."""
    parts = []
    for i in range(0, len(shapes) - 2, 4):
        w = shapes[i]
        bound = 1.0 / math.sqrt(w[1] * w[2] * w[3])
        parts += [(torch.rand(w, generator=gen) * 2 - 1) * bound, (torch.rand(w[0], generator=gen) * 2 - 1) * bound,
                  torch.ones(WIDTH), torch.zeros(WIDTH)]
    w = shapes[-2]
    bound = 1.0 / math.sqrt(w[1])
    parts += [(torch.rand(w, generator=gen) * 2 - 1) * bound, (torch.rand(w[0], generator=gen) * 2 - 1) * bound]
    return torch.cat([p.reshape(-1) for p in parts])


def convnet_forward(flat, shapes, x):
    """Logits [N, classes] of images x [N, C, H, W] under the parameters `flat` [P]."""
    views, off = [], 0
    for s in shapes:
        n = math.prod(s)
        views.append(flat[off:off + n].view(s))
        off += n
    h = x
    for d in range(DEPTH):
        w, b, gamma, beta = views[4 * d:4 * d + 4]
        pad = 3 if d == 0 and x.shape[1] == 1 else 1
        h = F.conv2d(h, w, b, padding=pad)
        h = F.group_norm(h, WIDTH, gamma, beta, eps=1e-5)   # instance norm: one group per channel
        h = ACTIVATION(h)
        h = F.avg_pool2d(h, 2)
    return F.linear(h.flatten(1), views[-2], views[-1])


# ---- DSA: differentiable augmentation, one group per call ------------------------------------

def rand_n(x):
    """One uniform draw per sample, shaped to broadcast over [N, C, H, W]."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device)


def brightness(x):
    return x + (rand_n(x) - 0.5)


def saturation(x):
    m = x.mean(dim=1, keepdim=True)
    return (x - m) * (rand_n(x) * 2.0) + m


def contrast(x):
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (rand_n(x) + 0.5) + m


def crop(x):
    """Translation by up to 1/8 of the side, zero fill."""
    n, _, hgt, wid = x.shape
    sh, sw = int(hgt * 0.125 + 0.5), int(wid * 0.125 + 0.5)
    tx = torch.randint(-sh, sh + 1, (n,), device=x.device)
    ty = torch.randint(-sw, sw + 1, (n,), device=x.device)
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = torch.arange(hgt, device=x.device)[None, :] + tx[:, None] + sh            # [N, H]
    cols = torch.arange(wid, device=x.device)[None, :] + ty[:, None] + sw            # [N, W]
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: [N, H, W, C].
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def cutout(x):
    """Zeroes a half-side square centred at a random point (clipped at the borders)."""
    n, _, hgt, wid = x.shape
    ch, cw = int(hgt * 0.5 + 0.5), int(wid * 0.5 + 0.5)
    ox = torch.randint(0, hgt + 1 - ch % 2, (n,), device=x.device) - ch // 2
    oy = torch.randint(0, wid + 1 - cw % 2, (n,), device=x.device) - cw // 2
    r = torch.arange(hgt, device=x.device)[None, :]
    c = torch.arange(wid, device=x.device)[None, :]
    in_r = (r >= ox[:, None]) & (r < ox[:, None] + ch)                                 # [N, H]
    in_c = (c >= oy[:, None]) & (c < oy[:, None] + cw)                                 # [N, W]
    keep = ~(in_r[:, :, None] & in_c[:, None, :])
    return x * keep[:, None].to(x.dtype)


def flip(x):
    return torch.where(rand_n(x) < 0.5, x.flip(3), x)


def affine(x, theta):
    """Bilinear resampling with zero padding through the 2x3 matrices theta [N, 2, 3]."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, align_corners=True)


def scale(x):
    n = x.shape[0]
    lo, hi = 1.0 / 1.2, 1.2
    sx = torch.rand(n, device=x.device) * (hi - lo) + lo
    sy = torch.rand(n, device=x.device) * (hi - lo) + lo
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1)
    return affine(x, theta)


def rotate(x):
    n = x.shape[0]
    ang = (torch.rand(n, device=x.device) - 0.5) * 2 * 15 / 180 * math.pi
    cos, sin, zero = torch.cos(ang), torch.sin(ang), torch.zeros_like(ang)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return affine(x, theta)


DSA_FUNCTIONS = {
    "color": [brightness, saturation, contrast],
    "crop": [crop],
    "cutout": [cutout],
    "flip": [flip],
    "scale": [scale],
    "rotate": [rotate],
}


def dsa(x, pick):
    for fn in DSA_FUNCTIONS[DSA_GROUPS[pick.randrange(len(DSA_GROUPS))]]:
        x = fn(x)
    return x


# ---- one distillation iteration ----------------------------------------------------------------

class ChunkQueue:
    """Minibatches as the original takes them: chunks of a fresh permutation, from the end."""

    def __init__(self, n, batch, device):
        self.n, self.batch, self.device, self.chunks = n, batch, device, []

    def next(self):
        if not self.chunks:
            self.chunks = list(torch.randperm(self.n, device=self.device).split(self.batch))
        return self.chunks.pop()


class Distillation:
    def __init__(self, args, device):
        c, h, w, classes = DATASETS[args.dataset]
        gen = torch.Generator().manual_seed(args.seed)
        self.shapes = convnet_shapes(c, h, classes)
        self.nsyn = args.ipc * classes
        self.batch = args.batch_syn if 0 < args.batch_syn < self.nsyn else self.nsyn
        self.syn_steps = args.syn_steps
        self.images = torch.randn(self.nsyn, c, h, w, generator=gen).to(device).requires_grad_(True)
        self.labels = torch.arange(classes).repeat_interleave(args.ipc).to(device)
        self.syn_lr = torch.tensor(0.01, device=device).requires_grad_(True)
        theta0 = convnet_init(self.shapes, gen)
        self.theta0 = theta0.to(device)
        self.target = (theta0 + 0.01 * torch.randn(theta0.shape, generator=gen)).to(device)
        self.opt_img = torch.optim.SGD([self.images], lr=1000, momentum=0.5)
        self.opt_lr = torch.optim.SGD([self.syn_lr], lr=1e-05, momentum=0.5)
        self.pick = random.Random(args.seed)
        self.device = device

    def meta_loss(self):
        """The matching loss after syn_steps student steps, with the whole unrolled graph kept."""
        queue = ChunkQueue(self.nsyn, self.batch, self.device)
        thetas = [self.theta0.clone().requires_grad_(True)]
        for _ in range(self.syn_steps):
            rows = queue.next()
            x = dsa(self.images[rows], self.pick)
            ce = F.cross_entropy(convnet_forward(thetas[-1], self.shapes, x), self.labels[rows])
            grad = torch.autograd.grad(ce, thetas[-1], create_graph=True)[0]
            thetas.append(thetas[-1] - self.syn_lr * grad)
        start = ((self.theta0 - self.target) ** 2).sum()
        return ((thetas[-1] - self.target) ** 2).sum() / start

    def iteration(self):
        """One meta-gradient and update; returns the matching loss."""
        loss = self.meta_loss()
        self.opt_img.zero_grad()
        self.opt_lr.zero_grad()
        loss.backward()
        self.opt_img.step()
        self.opt_lr.step()
        return loss.item()


# ---- measurement ---------------------------------------------------------------------------------

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def rss_now():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def positive(flag):
    def check(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("--%s must be a whole number, got '%s'" % (flag, text))
        if v < 1:
            raise argparse.ArgumentTypeError("--%s must be at least 1, got %d" % (flag, v))
        return v
    return check


def parse_args(argv):
    p = argparse.ArgumentParser(description="One distillation iteration of trajectory matching in plain PyTorch, "
                                            "on random data of a dataset's shape; prints one JSON line.")
    p.add_argument("--dataset", default="FashionMNIST", choices=sorted(DATASETS), help="shape and classes of the data")
    p.add_argument("--ipc", type=positive("ipc"), default=1, help="synthetic images per class")
    p.add_argument("--syn_steps", type=positive("syn_steps"), default=20, help="student steps per iteration")
    p.add_argument("--batch_syn", type=int, default=0, help="student minibatch (0: the whole set)")
    p.add_argument("--iterations", type=positive("iterations"), default=3,
                   help="timed iterations after one warm-up (the median is reported)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--tf32", default="off", choices=["on", "off"],
                   help="CUDA: TF32 in matmuls and convolutions (off: full FP32, as clmtt computes)")
    p.add_argument("--threads", type=positive("threads"), default=os.cpu_count() or 1,
                   help="torch's intra-op threads (default: all cores)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.batch_syn < 0:
        p.error("--batch_syn must be 0 (the whole set) or positive, got %d" % args.batch_syn)
    return args


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("torch_peer.py: --device cuda: this torch (%s) sees no CUDA device" % torch.__version__,
                  file=sys.stderr)
            return 1
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    device = torch.device(args.device)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    run = Distillation(args, device)
    baseline = rss_now()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    secs, loss, warm = [], float("nan"), 0.0
    for it in range(-1, args.iterations):
        sync()
        t0 = time.perf_counter()
        loss = run.iteration()
        sync()
        s = time.perf_counter() - t0
        if it < 0:
            warm = s
        else:
            secs.append(s)
    if cuda:
        peak, peak_kind = torch.cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated"
    else:
        peak, peak_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS of the process"
    rec = {
        "what": "torch_peer",
        "dataset": args.dataset,
        "model": "ConvNet",
        "ipc": args.ipc,
        "nsyn": run.nsyn,
        "batch_syn": run.batch,
        "syn_steps": args.syn_steps,
        "iterations": args.iterations,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "tf32": (args.tf32 == "on") if cuda else None,
        "seconds_per_iteration": statistics.median(secs),
        "iteration_seconds": secs,
        "warmup_seconds": warm,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        "baseline_rss_bytes": baseline,
        "parameters": int(run.theta0.numel()),
        "loss": loss,
        "finite": math.isfinite(loss) and bool(torch.isfinite(run.images).all()),
    }
    print(json.dumps(rec, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
