#!/usr/bin/env python3
"""Writes tests/fixtures/unet/unet_v1.safetensors: the U-Net of SPEC section 1, run by an
independent PyTorch twin in float64, for tests/nn/test_unet_fixture.cpp.

Config: batch 2, input 64x64x1, 4 classes, soft Dice loss with background (SPEC 4.2), Adam as in
TensorFlow (lr 1e-3, 0.9, 0.999, 1e-8; SPEC 2.8). Two passes at the initial weights:
  train  every BN in training mode (batch statistics; eps 1e-3, decay 0.99, running statistics
         starting at 0), as in training;
  eval   every BN in inference mode with running statistics from the hash below.
Why both: backpropagating through a chain of training-mode BNs cancels most of each upstream
gradient (BN removes its per-channel mean and its component along x-hat), so float32 rounding is
amplified: PyTorch's own float32 run of the train pass differs from float64 by about 2% (relative
L2, median over tensors; the numbers are in the metadata). The eval pass is well conditioned
(float32 agrees to about 1e-6), so it checks every gradient tightly, biases included; the train
pass checks the training-mode path at a looser bound.

Weights are not stored: both sides compute them from a counter-based hash (below), so only the
inputs and the outputs are in the file (1.4 MB instead of 8 MB of weights and 2 x 8 MB of
gradients). Per parameter tensor the fixture holds the float64 statistics of the weights (a
check that both sides built the same initial weights) and of the gradient over the whole tensor
(sum, L1, L2, max |.|), plus the gradient values at up to 1024 sampled positions (all of them for
small tensors) with their flat OHWI indices.

  weight value  u(name, i) = (splitmix64(fnv1a64(name) + i * 0x9E3779B97F4A7C15) >> 40) / 2^24
    conv weight [Cout,KH,KW,Cin] (OHWI, flat index i):  (2u - 1) * sqrt(3) * sqrt(2 / (KH*KW*Cin))
    conv bias:  0.1 * (2u - 1)     BN gamma: 1 + 0.2 * (2u - 1)     BN beta: 0.1 * (2u - 1)
    eval pass only, BN running mean: 0.1 * (2u - 1), running variance: 1 + 0.5 * (2u - 1)
  rounded to float32 (the C++ model is float32), then used in float64 here. The 2x2 up-convs use
  TF SAME padding: one row and column of zeros at the bottom / right (F.pad(x, (0, 1, 0, 1))).

Tensors in the file (all NHWC / OHWI like the C++ side), P = train or eval:
  input [2,64,64,1], labels [2,64,64,4] (one-hot), wstat.<param> [4] (weight statistics),
  P.logits [2,64,64,4], P.loss [1],
  P.gstat.<param> [4]: sum, L1, L2, max|.| of the gradient (float64),
  P.gidx.<param> (I32) and P.gval.<param>: sampled gradient entries,
  train.bn.<layer>.mean / .var: running statistics after the train pass,
  trajectory [10]: training-mode loss before each of 10 Adam steps (trajectory[0] == train.loss).

Needs torch and numpy (developer machines only). Run: python3 scripts/make_unet_fixture.py
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
N, S, NUM_CLASSES, STEPS, SAMPLES = 2, 64, 4, 10, 1024
BN_EPS, BN_DECAY = 1e-3, 0.99
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
ENC = [16, 32, 64, 128, 128, 128]
DEC = [128, 128, 64, 32, 16]
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
def layer_list():
    L = []  # (name, k, cin, cout, bias, bn, relu)
    cin = 1
    for lvl in range(1, 7):
        c = ENC[lvl - 1]
        L.append((f"enc_c{lvl}_a", 3, cin, c, True, True, True))
        L.append((f"enc_c{lvl}_b", 3, c, c, True, True, True))
        cin = c
    for b in range(1, 6):
        c = DEC[b - 1]
        L.append((f"dec_dc{7 - b}", 2, cin, c, True, True, True))
        L.append((f"dec_c{6 - b}_a", 3, 2 * c, c, True, True, True))
        if b < 5:
            L.append((f"dec_c{6 - b}_b", 3, c, c, True, True, True))
        cin = c
    L.append(("seg_c1_a", 3, 16, 16, True, True, True))
    L.append(("seg_c1_b", 3, 16, 16, True, True, True))
    L.append(("seg_fin_layer", 3, 16, NUM_CLASSES, False, False, False))
    return L


class Twin:
    def __init__(self, dtype=torch.float64, train_bn=True):
        self.train_bn = train_bn
        self.layers = {l[0]: l for l in layer_list()}
        self.order = [l[0] for l in layer_list()]
        self.params = {}  # name -> (tensor in torch layout, kind, OHWI shape)
        self.running = {}
        for name, k, cin, cout, bias, bn, relu in layer_list():
            def T(a):
                return torch.tensor(a, dtype=dtype)
            w = weight_values(name + ".w", "conv_w", (cout, k, k, cin))
            self.params[name + ".w"] = T(w).permute(0, 3, 1, 2).contiguous().requires_grad_()  # OIHW
            if bias:
                self.params[name + ".b"] = T(weight_values(name + ".b", "conv_b", (cout,))).requires_grad_()
            if bn:
                self.params[name + ".bn.gamma"] = T(weight_values(name + ".bn.gamma", "gamma", (cout,))).requires_grad_()
                self.params[name + ".bn.beta"] = T(weight_values(name + ".bn.beta", "beta", (cout,))).requires_grad_()
                if train_bn:  # SPEC quirk 12: the averages start at 0
                    self.running[name] = (torch.zeros(cout, dtype=dtype), torch.zeros(cout, dtype=dtype))
                else:
                    self.running[name] = (T(weight_values(name + ".bn.mean", "running_mean", (cout,))),
                                          T(weight_values(name + ".bn.var", "running_var", (cout,))))

    def unit(self, name, x):
        _, k, _, _, bias, bn, relu = self.layers[name]
        if k == 2:
            x = F.pad(x, (0, 1, 0, 1))  # TF SAME for an even kernel: the pad goes bottom/right
        y = F.conv2d(x, self.params[name + ".w"], self.params.get(name + ".b"), padding=(k - 1) // 2)
        if bn:
            rm, rv = self.running[name]
            y = F.batch_norm(y, rm, rv, self.params[name + ".bn.gamma"], self.params[name + ".bn.beta"],
                             training=self.train_bn, momentum=1.0 - BN_DECAY, eps=BN_EPS)
        return F.relu(y) if relu else y

    def forward(self, x):  # x NCHW
        skips = []
        h = x
        for lvl in range(1, 7):
            h = self.unit(f"enc_c{lvl}_b", self.unit(f"enc_c{lvl}_a", h))
            if lvl < 6:
                skips.append(h)
                h = F.max_pool2d(h, 2, 2)
        for b in range(1, 6):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.unit(f"dec_dc{7 - b}", h)
            h = torch.cat([h, skips[5 - b]], dim=1)
            h = self.unit(f"dec_c{6 - b}_a", h)
            if b < 5:
                h = self.unit(f"dec_c{6 - b}_b", h)
        h = self.unit("seg_c1_b", self.unit("seg_c1_a", h))
        return self.unit("seg_fin_layer", h)


def soft_dice(logits, y):  # NCHW
    p = torch.softmax(logits, dim=1)
    inter = (p * y).sum(dim=(2, 3))
    denom = p.sum(dim=(2, 3)) + y.sum(dim=(2, 3)) + 1e-10
    return 1.0 - (2.0 * inter / denom).mean()


def to_ohwi(name, t):
    return t.permute(0, 2, 3, 1) if name.endswith(".w") else t


def make_inputs():
    rng = np.random.default_rng(20201)
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


def stats(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return np.array([a.sum(), np.abs(a).sum(), np.sqrt((a * a).sum()), np.abs(a).max()])


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


def pass_at_init(x, y, train_bn, dtype=torch.float64):
    """Forward + backward at the initial weights: (net, logits NCHW, loss, {param: OHWI grad})."""
    net = Twin(dtype, train_bn)
    logits = net.forward(x.to(dtype))
    loss = soft_dice(logits, y.to(dtype))
    loss.backward()
    grads = {k: to_ohwi(k, p.grad).contiguous().double().numpy().ravel() for k, p in net.params.items()}
    return net, logits, loss, grads


def trajectory(x, y, dtype=torch.float64):
    """Adam, TensorFlow's formula (SPEC 2.8); the training-mode loss before each step."""
    net = Twin(dtype, True)
    x, y = x.to(dtype), y.to(dtype)
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


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "unet", "unet_v1.safetensors")
    torch.manual_seed(0)
    x_nhwc, y_nhwc = make_inputs()
    x = torch.tensor(x_nhwc.astype(np.float64)).permute(0, 3, 1, 2)
    y = torch.tensor(y_nhwc.astype(np.float64)).permute(0, 3, 1, 2)
    T = {"input": x_nhwc, "labels": y_nhwc}
    for name, p in Twin().params.items():
        T["wstat." + name] = stats(to_ohwi(name, p.detach()).numpy())

    rng = np.random.default_rng(7)
    for P, train_bn in (("train", True), ("eval", False)):
        net, logits, loss, grads = pass_at_init(x, y, train_bn)
        T[P + ".logits"] = logits.detach().permute(0, 2, 3, 1).numpy().astype(np.float32)
        T[P + ".loss"] = np.array([loss.item()])
        for name, g in grads.items():
            T[f"{P}.gstat.{name}"] = stats(g)
            idx = np.arange(g.size) if g.size <= SAMPLES else np.sort(rng.choice(g.size, SAMPLES, replace=False))
            T[f"{P}.gidx.{name}"] = idx.astype(np.int32)
            T[f"{P}.gval.{name}"] = g[idx]
        if train_bn:
            for lname, (rm, rv) in net.running.items():
                T[f"train.bn.{lname}.mean"] = rm.numpy().copy()
                T[f"train.bn.{lname}.var"] = rv.numpy().copy()
            train_grads = grads

    traj = trajectory(x, y)
    T["trajectory"] = traj
    assert abs(traj[0] - T["train.loss"][0]) < 1e-12

    # How far PyTorch's own float32 run is from float64 on this fixture (documentation only).
    _, _, _, g32 = pass_at_init(x, y, True, torch.float32)
    e32 = sorted(rel_l2(g32[k], train_grads[k]) for k in train_grads if not k.endswith(".b"))
    t32 = trajectory(x, y, torch.float32)
    meta = {"format": "contraseg-unet-fixture", "version": "1", "batch": str(N), "size": str(S),
            "num_classes": str(NUM_CLASSES), "adam_steps": str(STEPS), "torch": torch.__version__,
            "weights": "counter hash, see scripts/make_unet_fixture.py",
            "torch_f32_train_grad_rel_l2_median": f"{e32[len(e32) // 2]:.3e}",
            "torch_f32_train_grad_rel_l2_max": f"{e32[-1]:.3e}",
            "torch_f32_trajectory_max_rel_err": f"{np.max(np.abs(t32 - traj) / np.abs(traj)):.3e}"}
    write_safetensors(out, T, meta)
    print(f"wrote {out}: {os.path.getsize(out) / 1e6:.2f} MB, loss {traj[0]:.8f} -> {traj[-1]:.8f}")
    print({k: v for k, v in meta.items() if k.startswith("torch_f32")})


if __name__ == "__main__":
    main()
