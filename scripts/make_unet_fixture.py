#!/usr/bin/env python3
"""Writes tests/fixtures/unet/unet_v2.safetensors: the U-Net of docs/method.md §1 with its heads g1
and g2 and every loss (soft Dice, G^D in both modes, L^R), run by an independent PyTorch twin in
float64, for tests/nn/test_unet_fixture.cpp.

Four tasks, each at the initial weights (the losses below are written here from docs/method.md,
independently of losses/):
  dice    full U-Net, batch 2, input 64x64x1, 4 classes, soft Dice with background (docs/method.md §4.2);
          plus 10 steps of Adam as in TensorFlow (lr 1e-3, 0.9, 0.999, 1e-8; method §2.9).
  gdp     encoder + g1, G^D in paper mode (docs/method.md §2.3): V = 2 volumes x S = 4 partitions x
          2 views = 16 images of 32x32, row ((v*S)+s)*2 + view. Positives of an anchor: its other
          view and every image of the same partition in the other volume (both views); negatives:
          every image of the other partitions; one term per (anchor, positive); mean over terms.
  gdr     encoder + g1, G^D in reference mode (docs/method.md §2.7): 48 slots of 32x32 in blocks of 16
          [set-1 volume p0..p3, its augmented copies, set-2 volume p0..p3, its augmented copies];
          blocks 0 and 1 hold volumes 0..3, slots 32-47 are all-zero images (they go through the
          network and the loss). Anchors i with i mod 8 < 4, pairs (i,i+4) (i,i+8) (i+8,i+12)
          (i+4,i+12) mod 48, both directions, the reverse term keeping the negatives of i: every
          slot j with j mod 4 != i mod 4. Sum / 48.
  lr      encoder (frozen, no gradient) + decoder blocks 1..3 + g2 (+ the dense g2_pred), L^R
          (docs/method.md §3.3-3.6): 3 slices x 2 views = 6 images of 32x32 (views 2k, 2k+1); block 3 is
          8x8x64, so m = 4 and (a, b, c, d) = (1, 2, 3, 4); 3x3 regions flattened (dr*3+ds)*C + c
          through g2_pred [128, 576]; 13 positives, 5 listed negatives each, taken in both maps
          (10), both directions; sum / 13 / 6. tau = 0.1 for every contrastive loss.

Passes (BN eps 1e-3, decay 0.99):
  eval    every BN in inference mode, running statistics from the hash below (all tasks);
  train   every BN in training mode, batch statistics, running statistics starting at 0 (dice,
          gdp, gdr: stages 3 and 1 train this way);
  frozen  lr only: encoder BN in inference mode (paper mode of stage 2, method §3.1),
          decoder and g2 BN in training mode.
Why both: backpropagating through a chain of training-mode BNs cancels most of each upstream
gradient (BN removes its per-channel mean and its component along x-hat), so float32 rounding is
amplified. The eval and frozen passes are well conditioned and checked tightly by the C++ test;
the train passes are checked at a looser bound. The metadata records, per pass, how far
PyTorch's own float32 run is from float64 (relative L2 of the gradients, median and max over
tensors, and max-abs / max|ref|), and for the train passes how far float64 itself moves under
rounding-sized noise (see kink_deviation): the C++ tolerances are set against these numbers.

Kinks. On 32x32 inputs the deep maps have 1 to 16 positions per channel, so a single ReLU
pre-activation or max-pool gap within float32 rounding distance of 0 can move a gradient by
1e-2 depending on which way rounding falls. For the tightly checked passes each task's inputs are
drawn from the first seed (base + 1000 k) whose float64 gradients move by less than 1e-4
(max-abs / max|ref|) under PyTorch's float32 run and under pseudo-random noise of 3e-7 to 8e-7
of the rms added to every conv / dense output (kink_deviation); the chosen seeds and deviations
are in the metadata. Rerunning the script reproduces the file.

Weights are not stored: both sides compute them from a counter-based hash (below), so only the
inputs and the outputs are in the file. Per parameter tensor the fixture holds the float64
statistics of the weights (a check that both sides built the same initial weights) and, per pass,
of the gradient over the whole tensor (sum, L1, L2, max |.|), plus the gradient values at up to
SAMPLES = 512 sampled positions (all of them for small tensors) with their flat OHWI / [Dout, Din]
indices; the positions are drawn once per (task, parameter) and shared by the passes.

  weight value  u(name, i) = (splitmix64(fnv1a64(name) + i * 0x9E3779B97F4A7C15) >> 40) / 2^24
    conv weight [Cout,KH,KW,Cin] (OHWI, flat index i):  (2u - 1) * sqrt(3) * sqrt(2 / (KH*KW*Cin))
    dense weight [Dout, Din]:  (2u - 1) * sqrt(6 / (Din + Dout))  (Glorot uniform)
    conv bias:  0.1 * (2u - 1)     BN gamma: 1 + 0.2 * (2u - 1)     BN beta: 0.1 * (2u - 1)
    eval pass only, BN running mean: 0.1 * (2u - 1), running variance: 1 + 0.5 * (2u - 1)
  rounded to float32 (the C++ model is float32), then used in float64 here. The 2x2 up-convs use
  TF SAME padding: one row and column of zeros at the bottom / right (F.pad(x, (0, 1, 0, 1))).

Tensors in the file (all NHWC / OHWI like the C++ side), T = task, P = pass:
  wstat.<param> [4]: weight statistics, over the union of the three models' parameters;
  dice.input [2,64,64,1], dice.labels [2,64,64,4] (one-hot), gdp.input [16,32,32,1],
  gdr.input [32,32,32,1] (the 32 real slots; the test appends the 16 zero slots),
  lr.input [6,32,32,1];
  T.P.loss [1]; T.P.out: dice logits [2,64,64,4], gdp/gdr g1 embeddings [rows,128],
  lr g2 feature map [6,8,8,64] (all F32);
  T.P.gstat.<param> [4]: sum, L1, L2, max|.| of the gradient (float64);
  T.gidx.<param> (I32) and T.P.gval.<param> (F64): sampled gradient entries (lr: decoder and g2
  parameters only; the encoder is frozen);
  dice.train.bn.<layer>.mean / .var: running statistics after the train pass;
  dice.trajectory [10]: training-mode loss before each of 10 Adam steps.

Needs torch and numpy (developer machines only). Run: python3 scripts/make_unet_fixture.py
"""
import json
import os
import re
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
NUM_CLASSES, STEPS, SAMPLES = 4, 10, 512
BN_EPS, BN_DECAY, TAU = 1e-3, 0.99, 0.1
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
ENC = [16, 32, 64, 128, 128, 128]
DEC = [128, 128, 64, 32, 16]
G1_HIDDEN, EMBED = 1024, 128
MASK = (1 << 64) - 1


def fnv1a64(s):
    h = 1469598103934665603
    for c in s.encode():
        h ^= c
        h = (h * 1099511628211) & MASK
    return h


def hash_uniform(name, n):
    """u(name, i) for i in 0..n-1, float64 in [0, 1) with 24 bits (exact in float32)."""
    i = np.arange(n, dtype=np.uint64)
    z = np.full(n, fnv1a64(name), dtype=np.uint64) + i * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def weight_values(name, kind, shape):
    n = int(np.prod(shape))
    u = 2.0 * hash_uniform(name, n) - 1.0
    if kind == "conv_w":
        fan_in = shape[1] * shape[2] * shape[3]
        v = u * np.sqrt(3.0) * np.sqrt(2.0 / fan_in)
    elif kind == "dense_w":
        v = u * np.sqrt(6.0 / (shape[0] + shape[1]))
    elif kind == "conv_b":
        v = 0.1 * u
    elif kind == "gamma":
        v = 1.0 + 0.2 * u
    elif kind in ("beta", "running_mean"):
        v = 0.1 * u
    elif kind == "running_var":
        v = 1.0 + 0.5 * u
    else:
        raise ValueError(kind)
    return v.astype(np.float32).astype(np.float64).reshape(shape)


# ---- the layer list (names of nn/unet.h), in model order
def layer_list(cfg):
    """(name, section, kind, k, cin, cout, bias, bn, relu); kind 'conv' or 'dense'."""
    L = []
    cin = 1
    for lvl in range(1, 7):
        c = ENC[lvl - 1]
        L.append((f"enc_c{lvl}_a", "encoder", "conv", 3, cin, c, True, True, True))
        L.append((f"enc_c{lvl}_b", "encoder", "conv", 3, c, c, True, True, True))
        cin = c
    for b in range(1, cfg["decoder_blocks"] + 1):
        c = DEC[b - 1]
        L.append((f"dec_dc{7 - b}", "decoder", "conv", 2, cin, c, True, True, True))
        L.append((f"dec_c{6 - b}_a", "decoder", "conv", 3, 2 * c, c, True, True, True))
        if b < 5:
            L.append((f"dec_c{6 - b}_b", "decoder", "conv", 3, c, c, True, True, True))
        cin = c
    if cfg["seg_head"]:
        L.append(("seg_c1_a", "seg_head", "conv", 3, 16, 16, True, True, True))
        L.append(("seg_c1_b", "seg_head", "conv", 3, 16, 16, True, True, True))
        L.append(("seg_fin_layer", "seg_head", "conv", 3, 16, NUM_CLASSES, False, False, False))
    if cfg["g1"]:
        s = cfg["size"] // 32
        L.append(("reg_nn1", "g1", "dense", 0, s * s * ENC[5], G1_HIDDEN, False, False, True))
        L.append(("reg_pred", "g1", "dense", 0, G1_HIDDEN, EMBED, False, False, False))
    if cfg["g2_block"]:
        c = DEC[cfg["g2_block"] - 1]
        L.append(("g2_c1_a", "g2", "conv", 1, c, c, False, True, True))
        L.append(("g2_c1_b", "g2", "conv", 1, c, c, False, False, False))
        L.append(("g2_pred", "g2", "dense", 0, 9 * c, EMBED, False, False, False))
    return L


DICE_CFG = dict(size=64, decoder_blocks=5, seg_head=True, g1=False, g2_block=0)
G1_CFG = dict(size=32, decoder_blocks=0, seg_head=False, g1=True, g2_block=0)
G2_CFG = dict(size=32, decoder_blocks=3, seg_head=False, g1=False, g2_block=3)


class Twin:
    """bn: 'train' (batch statistics everywhere), 'eval' (running statistics from the hash
    everywhere) or 'frozen' (encoder on running statistics, the rest on batch statistics)."""

    def __init__(self, cfg, bn, dtype=torch.float64, noise=None):
        self.cfg, self.bn = cfg, bn
        self.noise = noise  # None or (draw, eps): see perturb()
        self.layers = {l[0]: l for l in layer_list(cfg)}
        self.params = {}  # name -> tensor in torch layout (OIHW / [Dout, Din])
        self.running = {}

        def T(a):
            return torch.tensor(a, dtype=dtype)

        def param(name, kind, shape):
            return T(weight_values(name, kind, shape)).requires_grad_()

        for name, section, kind, k, cin, cout, bias, bn_, relu in layer_list(cfg):
            if kind == "dense":
                self.params[name + ".w"] = param(name + ".w", "dense_w", (cout, cin))
                continue
            w = weight_values(name + ".w", "conv_w", (cout, k, k, cin))
            self.params[name + ".w"] = T(w).permute(0, 3, 1, 2).contiguous().requires_grad_()  # OIHW
            if bias:
                self.params[name + ".b"] = param(name + ".b", "conv_b", (cout,))
            if bn_:
                self.params[name + ".bn.gamma"] = param(name + ".bn.gamma", "gamma", (cout,))
                self.params[name + ".bn.beta"] = param(name + ".bn.beta", "beta", (cout,))
                if self.batch_stats(section):  # docs/method.md §1.7: the averages start at 0
                    self.running[name] = (torch.zeros(cout, dtype=dtype), torch.zeros(cout, dtype=dtype))
                else:
                    self.running[name] = (T(weight_values(name + ".bn.mean", "running_mean", (cout,))),
                                          T(weight_values(name + ".bn.var", "running_var", (cout,))))

    def batch_stats(self, section):
        return self.bn == "train" or (self.bn == "frozen" and section != "encoder")

    def perturb(self, y):
        """With noise = (draw, eps): y + eps * rms(y) * sin(phase(y)), a stand-in for another
        float32 implementation's rounding (used by kink_deviation only). The perturbation is a
        function of the value, so equal values stay equal: both implementations compute equal
        values for equal 3x3 patches, and max-pool ties are then broken the same way (the first
        element of the window); only near-ties and near-zero pre-activations are tested."""
        if self.noise is None:
            return y
        draw, eps = self.noise
        unit = eps * y.detach().pow(2).mean().sqrt()
        return y + (unit * torch.sin(y.detach() / unit * (1.0 + 0.37 * draw) + 1.3 * draw)).detach()

    def unit(self, name, x):
        _, section, kind, k, _, _, bias, bn, relu = self.layers[name]
        if kind == "dense":
            y = self.perturb(F.linear(x, self.params[name + ".w"]))
            return F.relu(y) if relu else y
        if k == 2:
            x = F.pad(x, (0, 1, 0, 1))  # TF SAME for an even kernel: the pad goes bottom/right
        y = self.perturb(F.conv2d(x, self.params[name + ".w"], self.params.get(name + ".b"), padding=(k - 1) // 2))
        if bn:
            rm, rv = self.running[name]
            y = F.batch_norm(y, rm, rv, self.params[name + ".bn.gamma"], self.params[name + ".bn.beta"],
                             training=self.batch_stats(section), momentum=1.0 - BN_DECAY, eps=BN_EPS)
        return F.relu(y) if relu else y

    def encoder(self, x):  # x NCHW -> (skips, bottleneck)
        skips = []
        h = x
        for lvl in range(1, 7):
            h = self.unit(f"enc_c{lvl}_b", self.unit(f"enc_c{lvl}_a", h))
            if lvl < 6:
                skips.append(h)
                h = F.max_pool2d(h, 2, 2)
        return skips, h

    def decoder(self, skips, h, blocks):
        for b in range(1, blocks + 1):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.unit(f"dec_dc{7 - b}", h)
            h = torch.cat([h, skips[5 - b]], dim=1)
            h = self.unit(f"dec_c{6 - b}_a", h)
            if b < 5:
                h = self.unit(f"dec_c{6 - b}_b", h)
        return h

    def forward(self, x):  # the whole U-Net -> logits NCHW
        skips, h = self.encoder(x)
        h = self.decoder(skips, h, 5)
        h = self.unit("seg_c1_b", self.unit("seg_c1_a", h))
        return self.unit("seg_fin_layer", h)

    def g1(self, bottleneck):  # NCHW -> z [N, 128]; the flatten order is NHWC (TensorFlow's)
        h = bottleneck.permute(0, 2, 3, 1).reshape(bottleneck.shape[0], -1)
        return self.unit("reg_pred", self.unit("reg_nn1", h))

    def g2(self, block):  # NCHW -> NCHW
        return self.unit("g2_c1_b", self.unit("g2_c1_a", block))


# ---- losses, from docs/method.md
def soft_dice(logits, y):  # NCHW (docs/method.md §4.2)
    p = torch.softmax(logits, dim=1)
    inter = (p * y).sum(dim=(2, 3))
    denom = p.sum(dim=(2, 3)) + y.sum(dim=(2, 3)) + 1e-10
    return 1.0 - (2.0 * inter / denom).mean()


def ntxent(sim, anchor, positive, negatives):
    """-log( e^{s_ap} / (e^{s_ap} + sum_n e^{s_an}) ) for one term (docs/method.md §2.1); sim = cos / tau."""
    row = sim[anchor]
    logits = torch.cat([row[positive].reshape(1), row[list(negatives)]])
    return torch.logsumexp(logits, 0) - row[positive]


def scaled_cosine(z):
    zn = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return zn @ zn.t() / TAU


def gd_paper_loss(z, V, S):
    rows = [(v, s, w) for v in range(V) for s in range(S) for w in range(2)]  # ((v*S)+s)*2 + view
    sim = scaled_cosine(z)
    terms = []
    for a, (va, sa, wa) in enumerate(rows):
        negs = [j for j, (_, s, _) in enumerate(rows) if s != sa]
        for p, (vp, sp, wp) in enumerate(rows):
            if sp == sa and ((vp == va and wp != wa) or vp != va):
                terms.append(ntxent(sim, a, p, negs))
    assert len(terms) == V * S * 2 * (1 + 2 * (V - 1))
    return torch.stack(terms).mean()


def gd_reference_loss(z):
    bs = 48
    assert z.shape[0] == bs
    sim = scaled_cosine(z)
    total, count = 0.0, 0
    for i in range(bs):
        if i % 8 >= 4:
            continue
        i2, i3, i4 = (i + 4) % bs, (i + 8) % bs, (i + 12) % bs
        negs = [j for j in range(bs) if j % 4 != i % 4]
        for x, y in ((i, i2), (i, i3), (i3, i4), (i2, i4)):
            total = total + ntxent(sim, x, y, negs) + ntxent(sim, y, x, negs)
            count += 2
    assert count == 192
    return total / 48.0


# docs/method.md §3.3-3.4 (the 3x3 table), as printed there.
POSITIVE_TABLE = "P0 (0,0) P1 (0,b) P2 (0,d) P3 (b,0) P4 (b,b) P5 (b,d) P6 (d,0) P7 (d,b) P8 (d,d) " \
                 "P9 (a,a) P10 (a,c) P11 (c,a) P12 (c,c)"
NEGATIVE_TABLE = """
P0 (0,b) (a,a) (a,b) (b,0) (b,a)
P1 (0,0) (0,d) (a,a) (a,c) (b,b)
P2 (0,b) (a,b) (a,c) (b,c) (b,d)
P3 (0,0) (a,a) (b,b) (d,0) (c,a)
P4 (a,a) (a,c) (c,a) (c,c) (b,0)
P5 (0,d) (b,b) (d,d) (a,c) (c,c)
P6 (b,0) (b,a) (d,b) (c,a) (c,b)
P7 (b,b) (d,0) (d,d) (c,a) (c,c)
P8 (b,c) (b,d) (d,b) (c,c) (c,b)
P9 (0,0) (0,b) (b,0) (b,b) (a,c)
P10 (0,b) (0,d) (a,a) (b,b) (b,d)
P11 (b,0) (b,b) (d,0) (d,b) (c,c)
P12 (b,b) (b,d) (d,b) (d,d) (c,a)
"""


def region_tables(side):
    m = side - 4  # 3x3 regions
    off = {"0": 0, "a": m // 4, "b": m // 2, "c": 3 * m // 4, "d": m}
    pair = re.compile(r"\((\w),(\w)\)")
    pos = {p: (off[r], off[s]) for p, r, s in re.findall(r"(P\d+) \((\w),(\w)\)", POSITIVE_TABLE)}
    negs = {}
    for line in NEGATIVE_TABLE.strip().splitlines():
        p = line.split()[0]
        negs[p] = [(off[r], off[s]) for r, s in pair.findall(line)]
    order = [f"P{i}" for i in range(13)]
    assert len(pos) == 13 and all(len(negs[p]) == 5 for p in order)
    return [pos[p] for p in order], [negs[p] for p in order]


def lr_loss(fmap, dense_w):
    """fmap NCHW [2B, C, W, W] -> L^R (docs/method.md §3.6)."""
    f = fmap.permute(0, 2, 3, 1)  # NHWC
    n_img, side, _, C = f.shape
    positives, negatives = region_tables(side)

    cache = {}

    def emb(n, rs):  # the region's 9C values in (dr, ds, c) order through the dense layer
        if (n, rs) not in cache:
            r, s = rs
            cache[(n, rs)] = F.linear(f[n, r:r + 3, s:s + 3, :].reshape(1, 9 * C), dense_w)[0]
        return cache[(n, rs)]

    def cos(u, v):
        return torch.dot(u, v) / (u.norm().clamp_min(1e-12) * v.norm().clamp_min(1e-12)) / TAU

    total = 0.0
    for k in range(n_img // 2):
        for r in range(13):
            for x, y in ((2 * k, 2 * k + 1), (2 * k + 1, 2 * k)):
                a, p = emb(x, positives[r]), emb(y, positives[r])
                s_neg = [cos(a, emb(img, q)) for img in (x, y) for q in negatives[r]]  # 10 negatives
                s_ap = cos(a, p)
                total = total + torch.logsumexp(torch.stack([s_ap] + s_neg), 0) - s_ap
    return total / 13.0 / n_img


# ---- inputs
def dice_inputs(seed):
    rng = np.random.default_rng(seed)
    N, S = 2, 64
    x = rng.uniform(0.0, 1.0, size=(N, S, S, 1)).astype(np.float32)
    lab = np.zeros((N, S, S), dtype=np.int64)
    yy, xx = np.mgrid[0:S, 0:S] + 0.5
    for n in range(N):
        for c in range(1, NUM_CLASSES):
            cy, cx, r = rng.uniform(12, 52), rng.uniform(12, 52), rng.uniform(6, 14)
            lab[n][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = c
    x += 0.5 * (lab[..., None] > 0)  # make the classes visible in the image
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[lab]
    return x.astype(np.float32), onehot


class SliceMaker:
    """Synthetic 32x32 slices: a partition-dependent layout of blobs, varied per volume; a view is
    a brightness/contrast change of its slice (clipped to [0, 1.5]), as in docs/method.md §2.8."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.yy, self.xx = np.mgrid[0:32, 0:32] + 0.5

    def slice(self, volume, partition):
        r = np.random.default_rng([self.seed, volume, partition])
        img = 0.1 * r.uniform(size=(32, 32))
        for b in range(3):
            cy = 6 + 20 * ((partition + b) % 4) / 3 + r.normal(0, 2)
            cx = 6 + 20 * ((partition * 3 + b) % 4) / 3 + r.normal(0, 2)
            rad = 3 + 2 * b + r.uniform(0, 2)
            img += (0.3 + 0.2 * b) * np.exp(-((self.yy - cy) ** 2 + (self.xx - cx) ** 2) / (2 * rad * rad))
        return img

    def view(self, img):
        delta, factor = self.rng.uniform(-0.3, 0.3), self.rng.uniform(0.7, 1.3)
        v = img + delta
        return np.clip((v - v.mean()) * factor + v.mean(), 0.0, 1.5)


def gdp_inputs(seed, V=2, S=4):
    mk = SliceMaker(seed)
    imgs = []
    for v in range(V):
        for s in range(S):
            base = mk.slice(v, s)
            imgs += [mk.view(base), mk.view(base)]  # row ((v*S)+s)*2 + view
    return np.stack(imgs)[..., None].astype(np.float32)


def gdr_inputs(seed):
    """The 32 real slots of reference G^D: block b in {0, 1} = [volume 2b p0..p3 originals, their
    augmented copies, volume 2b+1 p0..p3 originals, their augmented copies]."""
    mk = SliceMaker(seed)
    imgs = []
    for b in range(2):
        for vol in (2 * b, 2 * b + 1):
            orig = [mk.slice(vol, s) for s in range(4)]
            imgs += orig + [mk.view(o) for o in orig]
    return np.stack(imgs)[..., None].astype(np.float32)


def lr_inputs(seed, B=3):
    mk = SliceMaker(seed)
    imgs = []
    for k in range(B):
        base = mk.slice(10 + k, k % 4)
        imgs += [mk.view(base), mk.view(base)]  # views 2k, 2k+1
    return np.stack(imgs)[..., None].astype(np.float32)


# ---- output helpers
def stats(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return np.array([a.sum(), np.abs(a).sum(), np.sqrt((a * a).sum()), np.abs(a).max()])


def to_ohwi(name, t):
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int32): "I32"}[arr.dtype]
        b = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def nchw(a, dtype):
    return torch.tensor(a.astype(np.float64), dtype=dtype).permute(0, 3, 1, 2)


# ---- one pass of one task: (net, loss, forward output NHWC / [rows, D], {param: flat grad})
def run_task(task, bn, inputs, dtype=torch.float64, noise=None):
    if task == "dice":
        net = Twin(DICE_CFG, bn, dtype, noise)
        out = net.forward(nchw(inputs[0], dtype))
        loss = soft_dice(out, nchw(inputs[1], dtype))
        out_nhwc = out.permute(0, 2, 3, 1)
    elif task in ("gdp", "gdr"):
        net = Twin(G1_CFG, bn, dtype, noise)
        x = inputs
        if task == "gdr":
            x = np.concatenate([x, np.zeros((16,) + x.shape[1:], np.float32)])  # slots 32-47
        _, bottleneck = net.encoder(nchw(x, dtype))
        out_nhwc = net.g1(bottleneck)
        loss = gd_paper_loss(out_nhwc, 2, 4) if task == "gdp" else gd_reference_loss(out_nhwc)
    elif task == "lr":
        net = Twin(G2_CFG, bn, dtype, noise)
        with torch.no_grad():  # the frozen encoder
            skips, bottleneck = net.encoder(nchw(inputs, dtype))
        fmap = net.g2(net.decoder(skips, bottleneck, 3))
        loss = lr_loss(fmap, net.params["g2_pred.w"])
        out_nhwc = fmap.permute(0, 2, 3, 1)
    else:
        raise ValueError(task)
    loss.backward()
    grads = {k: to_ohwi(k, p.grad).contiguous().double().numpy().ravel()
             for k, p in net.params.items() if p.grad is not None}
    if task == "lr":
        assert all(not k.startswith("enc_") for k in grads)
    return net, loss, out_nhwc, grads


def trajectory(x, y, dtype=torch.float64):
    """Adam, TensorFlow's formula (docs/method.md §2.9); the training-mode Dice before each step."""
    net = Twin(DICE_CFG, "train", dtype)
    x, y = nchw(x, dtype), nchw(y, dtype)
    m = {k: torch.zeros_like(p) for k, p in net.params.items()}
    v = {k: torch.zeros_like(p) for k, p in net.params.items()}
    traj = []
    for t in range(1, STEPS + 1):
        for p in net.params.values():
            p.grad = None
        loss = soft_dice(net.forward(x), y)
        loss.backward()
        traj.append(loss.item())
        lr_t = LR * np.sqrt(1.0 - B2 ** t) / (1.0 - B1 ** t)
        with torch.no_grad():
            for k, p in net.params.items():
                g = p.grad
                m[k].mul_(B1).add_((1 - B1) * g)
                v[k].mul_(B2).add_((1 - B2) * g * g)
                p.sub_(lr_t * m[k] / (v[k].sqrt() + EPS))
    return np.array(traj)


TASKS = (("dice", ("train", "eval")), ("gdp", ("train", "eval")), ("gdr", ("train", "eval")),
         ("lr", ("frozen", "eval")))
INPUTS = {"dice": (20201, dice_inputs), "gdp": (11, gdp_inputs), "gdr": (12, gdr_inputs), "lr": (13, lr_inputs)}
TIGHT = ("eval", "frozen")  # the passes the C++ test checks at 1e-3 max-abs
KINK_EPS, KINK_DRAWS, KINK_MAX, MAX_SEEDS = (8e-7, 5e-7, 3e-7), 3, 1e-4, 40


def max_rel_dev(got, ref):
    """max over tensors of max |got - ref| / max |ref| (tensors with a vanishing gradient skipped)."""
    top = max(np.abs(g).max() for g in ref.values())
    return max(np.abs(got[k] - ref[k]).max() / np.abs(ref[k]).max() for k in ref if np.abs(ref[k]).max() > 1e-9 * top)


def kink_deviation(task, P, inputs, grads, stop=np.inf):
    """How far the float64 gradients move (max_rel_dev) under PyTorch's float32 run and under
    KINK_DRAWS draws of pseudo-random noise of each size in KINK_EPS (relative to the rms of
    every conv / dense output, Twin.perturb); returns early once past `stop`.
    Why: on these small maps a ReLU pre-activation or a max-pool gap within rounding distance of
    0 makes a gradient depend on which way float32 rounding falls (seen: a level-4 pre-activation
    of 1.6e-7 in float32 and -1e-9 in float64 moved its gradients by 1.6e-2, far above the C++
    test's 1e-3). Per-layer rounding differences of float32 implementations are ~1e-7 of the rms,
    so inputs whose gradients move by KINK_MAX under noise several times larger are kept, the
    others rejected: the test then checks the model, not luck."""
    worst = max_rel_dev(run_task(task, P, inputs, torch.float32)[3], grads)
    for eps in KINK_EPS:
        for d in range(KINK_DRAWS):
            if worst >= stop:
                return worst
            worst = max(worst, max_rel_dev(run_task(task, P, inputs, noise=(d, eps))[3], grads))
    return worst


def robust_task(task, passes):
    """The task's inputs for the first seed whose tight passes are kink-free (kink_deviation <
    KINK_MAX), with every pass's results: (seed, inputs, {P: run_task(...)}, {P: deviation})."""
    base, make = INPUTS[task]
    for attempt in range(MAX_SEEDS):
        seed = base + 1000 * attempt
        inputs = make(seed)
        results, dev = {}, {}
        for P in passes:
            if P in TIGHT:
                results[P] = run_task(task, P, inputs)
                dev[P] = kink_deviation(task, P, inputs, results[P][3], KINK_MAX)
                if dev[P] >= KINK_MAX:
                    break
        if dev and max(dev.values()) < KINK_MAX:
            for P in passes:
                if P not in results:
                    results[P] = run_task(task, P, inputs)
            return seed, inputs, results, dev
        print(f"{task}: input seed {seed} sits near a kink (gradients move by {max(dev.values()):.1e}), next seed",
              flush=True)
    raise RuntimeError(f"{task}: no kink-free input in {MAX_SEEDS} seeds")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "unet", "unet_v2.safetensors")
    torch.manual_seed(0)
    T = {}
    for cfg in (DICE_CFG, G1_CFG, G2_CFG):
        for name, p in Twin(cfg, "eval").params.items():
            T["wstat." + name] = stats(to_ohwi(name, p.detach()).numpy())

    meta = {"format": "contraseg-unet-fixture", "version": "2", "torch": torch.__version__, "tau": str(TAU),
            "weights": "counter hash, see scripts/make_unet_fixture.py",
            "dice.batch": "2", "dice.size": "64", "dice.num_classes": str(NUM_CLASSES), "dice.adam_steps": str(STEPS),
            "gdp.volumes": "2", "gdp.partitions": "4", "gdp.size": "32", "gdr.size": "32",
            "lr.images": "6", "lr.size": "32", "lr.block": "3"}
    rng = np.random.default_rng(7)
    summary = []
    for task, passes in TASKS:
        seed, inputs, results, dev = robust_task(task, passes)
        meta[f"{task}.input_seed"] = str(seed)
        if task == "dice":
            T["dice.input"], T["dice.labels"] = inputs
            dice_x, dice_y = inputs
        else:
            T[f"{task}.input"] = inputs
        for P in passes:
            net, loss, o, grads = results[P]
            T[f"{task}.{P}.loss"] = np.array([loss.item()])
            T[f"{task}.{P}.out"] = o.detach().numpy().astype(np.float32)
            for name, g in grads.items():
                T[f"{task}.{P}.gstat.{name}"] = stats(g)
                key = f"{task}.gidx.{name}"
                if key not in T:
                    T[key] = (np.arange(g.size) if g.size <= SAMPLES else
                              np.sort(rng.choice(g.size, SAMPLES, replace=False))).astype(np.int32)
                T[f"{task}.{P}.gval.{name}"] = g[T[key]]
            if task == "dice" and P == "train":
                for lname, (rm, rv) in net.running.items():
                    T[f"dice.train.bn.{lname}.mean"] = rm.numpy().copy()
                    T[f"dice.train.bn.{lname}.var"] = rv.numpy().copy()
            # How far PyTorch's own float32 run is from float64 on this pass (documentation only).
            _, loss32, _, g32 = run_task(task, P, inputs, torch.float32)
            e32 = sorted(rel_l2(g32[k], grads[k]) for k in grads if np.linalg.norm(grads[k]) > 1e-9 *
                         max(np.abs(g).max() for g in grads.values()))
            meta[f"{task}.{P}.torch_f32_grad_rel_l2_median"] = f"{e32[len(e32) // 2]:.3e}"
            meta[f"{task}.{P}.torch_f32_grad_rel_l2_max"] = f"{e32[-1]:.3e}"
            meta[f"{task}.{P}.torch_f32_grad_max_abs_err"] = f"{max_rel_dev(g32, grads):.3e}"
            meta[f"{task}.{P}.torch_f32_loss_rel_err"] = f"{abs(loss32.item() - loss.item()) / abs(loss.item()):.3e}"
            line = (f"{task}.{P}: loss {loss.item():.8f}, {len(grads)} gradients, torch f32: rel L2 median "
                    f"{e32[len(e32) // 2]:.2e} max {e32[-1]:.2e}, max-abs {max_rel_dev(g32, grads):.2e}")
            if P in dev:
                meta[f"{task}.{P}.kink_deviation"] = f"{dev[P]:.3e}"
                line += f", kink deviation {dev[P]:.2e} (seed {seed})"
            else:  # a train pass: how much float64 itself moves under rounding-sized noise
                sens = max(max(rel_l2(gp[k], grads[k]) for k in grads if np.linalg.norm(grads[k]) > 1e-9 *
                               max(np.abs(g).max() for g in grads.values()))
                           for gp in (run_task(task, P, inputs, noise=(d, eps))[3]
                                      for eps in KINK_EPS for d in range(KINK_DRAWS)))
                meta[f"{task}.{P}.noise_grad_rel_l2_max"] = f"{sens:.3e}"
                line += f", float64 under noise: rel L2 max {sens:.2e}"
            summary.append(line)

    traj = trajectory(dice_x, dice_y)
    T["dice.trajectory"] = traj
    assert abs(traj[0] - T["dice.train.loss"][0]) < 1e-12
    t32 = trajectory(dice_x, dice_y, torch.float32)
    meta["dice.torch_f32_trajectory_max_rel_err"] = f"{np.max(np.abs(t32 - traj) / np.abs(traj)):.3e}"
    write_safetensors(out, T, meta)
    print(f"wrote {out}: {os.path.getsize(out) / 1e6:.2f} MB, Dice trajectory {traj[0]:.8f} -> {traj[-1]:.8f}")
    print("\n".join(summary))
    print("Dice trajectory, torch f32 max rel err", meta["dice.torch_f32_trajectory_max_rel_err"])


if __name__ == "__main__":
    main()
