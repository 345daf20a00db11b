#!/usr/bin/env python3
"""Reads a run folder's TensorBoard event files with TensorBoard's own reader and prints every
scalar series (tag, steps, first and last values) and image tag: the developer check of
io/formats/tfevents.h. Needs the `tensorboard` package (PyPI; a developer tool, not a build or
run dependency).

    python3 scripts/read_tfevents.py RUN_DIR
"""
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("read_tfevents: needs the tensorboard package (pip install tensorboard)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    if not tags["scalars"] and not tags["images"]:
        sys.exit(f"read_tfevents: {sys.argv[1]} holds no events TensorBoard can read")
    for tag in tags["scalars"]:
        s = acc.Scalars(tag)
        print(f"scalar {tag}: {len(s)} values, steps {s[0].step}..{s[-1].step}, {s[0].value:.6g} .. {s[-1].value:.6g}")
    for tag in tags["images"]:
        im = acc.Images(tag)
        print(f"image {tag}: {len(im)} images, last {im[-1].width}x{im[-1].height} at step {im[-1].step}")


if __name__ == "__main__":
    main()
