#!/usr/bin/env python3
"""PyTorch peer of contraseg's UNet training step (docs/method.md §1), for side-by-side timing.

Same network (channels 16/32/64/128/128/128, 2x2 up-convs with TF SAME padding, 3x3 final
layer without bias), same batch (20 x 192 x 192 x 1), same step: forward, soft Dice loss with
background, backward, Adam. Channels-last memory format, float32; with --bf16 the forward runs
under torch.autocast(bfloat16), the usual mixed precision of PyTorch users (fp32 master weights
and optimiser). Prints one line in the same format as `contraseg_bench`:

    unet_step peer=pytorch device=cpu threads=2 batch=20 size=192 precision=fp32 ms/step=... images/s=...

Developer tool only: PyTorch is never needed to build, run or test contraseg.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Unit(nn.Module):
    """conv (bias) + BN (eps 1e-3, decay 0.99) + ReLU; k=2 uses TF SAME padding (bottom/right)."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(cin, cout, k, padding=(k // 2 if k % 2 else 0))
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        if self.k == 2:
            x = F.pad(x, (0, 1, 0, 1))
        return F.relu(self.bn(self.conv(x)))


class UNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        ch = [1, 16, 32, 64, 128, 128, 128]
        self.enc = nn.ModuleList(
            nn.Sequential(Unit(ch[i], ch[i + 1], 3), Unit(ch[i + 1], ch[i + 1], 3)) for i in range(6))
        # decoder block b: up-conv to out[b], concat skip skip[b], then convs
        out = [128, 128, 64, 32, 16]
        skip = [128, 128, 64, 32, 16]
        cin = 128
        self.dc, self.dec = nn.ModuleList(), nn.ModuleList()
        for b in range(5):
            self.dc.append(Unit(cin, out[b], 2))
            convs = [Unit(out[b] + skip[b], out[b], 3)]
            if b < 4:
                convs.append(Unit(out[b], out[b], 3))
            self.dec.append(nn.Sequential(*convs))
            cin = out[b]
        self.seg = nn.Sequential(Unit(16, 16, 3), Unit(16, 16, 3))
        self.fin = nn.Conv2d(16, num_classes, 3, padding=1, bias=False)

    def forward(self, x):
        skips = []
        for i, level in enumerate(self.enc):
            x = level(x)
            if i < 5:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for b in range(5):
            x = self.dc[b](F.interpolate(x, scale_factor=2, mode="nearest"))
            x = self.dec[b](torch.cat([x, skips[4 - b]], 1))
        return self.fin(self.seg(x))


def dice_loss(logits, onehot):
    p = torch.softmax(logits, 1)
    inter = (p * onehot).sum((2, 3))
    den = p.sum((2, 3)) + onehot.sum((2, 3)) + 1e-10
    return 1 - (2 * inter / den).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="forward under torch.autocast(bfloat16)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = UNet(args.classes).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(args.batch, 1, args.size, args.size, device=dev).to(memory_format=torch.channels_last)
    y = torch.randint(0, args.classes, (args.batch, args.size, args.size), device=dev)
    onehot = F.one_hot(y, args.classes).permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=False)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(x)
        loss = dice_loss(logits.float(), onehot)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / args.steps
    print(f"unet_step peer=pytorch-{torch.__version__} device={args.device} threads={torch.get_num_threads()} "
          f"batch={args.batch} size={args.size} precision={'bf16' if args.bf16 else 'fp32'} "
          f"ms/step={ms:.1f} images/s={args.batch * 1000 / ms:.1f}")


if __name__ == "__main__":
    main()
