#!/usr/bin/env python3
"""Writes the NIfTI and preprocessing fixtures of tests/io into tests/fixtures/nifti.

The files are written by nibabel and the expected values computed by nibabel, numpy and
scikit-image, so the C++ reader and preprocessing are checked against independent
implementations. Run once; the outputs are committed (a few tens of KB). Needs numpy, nibabel
and scikit-image; the build and the tests never do.

    python3 scripts/make_nifti_fixtures.py [OUT_DIR]
"""
import gzip
import json
import os
import struct
import sys

import nibabel as nib
import numpy as np
from skimage.transform import rescale, resize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "nifti")
rng = np.random.default_rng(20200611)

# An oblique affine (rotation about z plus a shear-free scaling and a translation), so that a
# reader that ignores or transposes the sform is caught.
c, s = np.cos(0.3), np.sin(0.3)
AFFINE = np.array([[0.9 * c, -1.1 * s, 0.0, -10.5],
                   [0.9 * s, 1.1 * c, 0.0, 20.25],
                   [0.0, 0.0, 2.5, 5.0],
                   [0.0, 0.0, 0.0, 1.0]])


def header_facts(img):
    """What the C++ side must read back: dims, datatype, pixdim, codes, matrices."""
    hdr = img.header
    sform, scode = hdr.get_sform(coded=True)
    qform, qcode = hdr.get_qform(coded=True)
    return {
        "shape": [int(d) for d in img.shape],
        "datatype": int(hdr["datatype"]),
        "pixdim": [float(p) for p in hdr["pixdim"][1:4]],
        "qform_code": int(qcode),
        "sform_code": int(scode),
        "sform": (sform if sform is not None else np.eye(4)).tolist(),
        "qform": (qform if qform is not None else np.eye(4)).tolist(),
    }


def save(img, name, expected):
    path = os.path.join(OUT, name)
    nib.save(img, path)
    back = nib.load(path)  # expected values come from reading the file written, not from memory
    data = np.asarray(back.get_fdata(dtype=np.float64))
    e = header_facts(back)
    # voxel values in NIfTI order (x fastest): Fortran order of the nibabel array
    if data.ndim == 4:
        e["values"] = [data[..., t].ravel(order="F").tolist() for t in range(data.shape[3])]
    else:
        e["values"] = [data.ravel(order="F").tolist()]
    expected[name] = e


def good_files(expected):
    shape = (5, 4, 3)
    # uint8, sform and qform both set (nibabel sets both from the affine)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    save(nib.Nifti1Image(a, AFFINE), "uint8.nii.gz", expected)
    # int16 with scl_slope / scl_inter
    a = rng.integers(-2000, 2000, shape).astype(np.int16)
    img = nib.Nifti1Image(a, AFFINE)
    img.header.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.5, -10.0)
    img.set_sform(AFFINE, code=2)
    img.set_qform(AFFINE, code=1)
    save(img, "int16_scaled.nii", expected)
    # int32, qform only (sform code 0)
    a = rng.integers(-100000, 100000, shape).astype(np.int32)
    img = nib.Nifti1Image(a, AFFINE)
    img.set_sform(None, code=0)
    img.set_qform(AFFINE, code=1)
    save(img, "int32_qform_only.nii.gz", expected)
    # float32
    a = rng.normal(100.0, 30.0, shape).astype(np.float32)
    save(nib.Nifti1Image(a, AFFINE), "float32.nii", expected)
    # float64
    a = rng.normal(0.0, 1e3, shape).astype(np.float64)
    save(nib.Nifti1Image(a, AFFINE), "float64.nii.gz", expected)
    # int8 and uint16
    a = rng.integers(-128, 128, shape).astype(np.int8)
    save(nib.Nifti1Image(a, AFFINE), "int8.nii", expected)
    a = rng.integers(0, 65536, shape).astype(np.uint16)
    save(nib.Nifti1Image(a, AFFINE), "uint16.nii.gz", expected)
    # big-endian int16
    a = rng.integers(-3000, 3000, shape).astype(">i2")
    hdr = nib.Nifti1Header(endianness=">")
    hdr.set_data_dtype(">i2")
    save(nib.Nifti1Image(a, AFFINE, header=hdr), "int16_bigendian.nii", expected)
    # 4D (two volumes, like MSD prostate's T2 + ADC)
    a = rng.integers(0, 1000, shape + (2,)).astype(np.int16)
    save(nib.Nifti1Image(a, AFFINE), "int16_4d.nii.gz", expected)
    # NIfTI-2
    a = rng.normal(5.0, 2.0, shape).astype(np.float32)
    save(nib.Nifti2Image(a, AFFINE), "nifti2_float32.nii.gz", expected)


def write_bad(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def bad_files():
    """Malformed files; each must give an error naming it (tests/io/test_nifti.cpp)."""
    a = np.arange(60, dtype=np.float32).reshape(5, 4, 3)
    good = nib.Nifti1Image(a, AFFINE)
    p = os.path.join(OUT, "_tmp.nii")
    nib.save(good, p)
    raw = open(p, "rb").read()
    os.remove(p)
    write_bad("bad_truncated.nii", raw[: len(raw) - 40])
    write_bad("bad_truncated.nii.gz", gzip.compress(raw)[:-30])
    write_bad("bad_magic.nii", raw[:344] + b"xx1\0" + raw[348:])
    write_bad("bad_zero_bytes.nii", b"")
    write_bad("bad_not_gzip.nii.gz", b"this is not a gzip stream" * 20)
    # absurd dims: 30000^3 voxels announced by a tiny file
    h = bytearray(raw[:352])
    struct.pack_into("<8h", h, 40, 3, 30000, 30000, 30000, 1, 1, 1, 1)
    write_bad("bad_absurd_dims.nii", bytes(h) + raw[352:])
    # a zero dimension
    h = bytearray(raw[:352])
    struct.pack_into("<8h", h, 40, 3, 5, 0, 3, 1, 1, 1, 1)
    write_bad("bad_zero_dim.nii", bytes(h) + raw[352:])
    # complex datatype
    nib.save(nib.Nifti1Image(a.astype(np.complex64), AFFINE), os.path.join(OUT, "bad_complex.nii"))
    # RGB24
    rgb = np.zeros((5, 4, 3), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, AFFINE), os.path.join(OUT, "bad_rgb.nii"))
    # NaN and Inf voxels
    b = a.copy()
    b[2, 1, 0] = np.nan
    b[4, 3, 2] = np.inf
    nib.save(nib.Nifti1Image(b, AFFINE), os.path.join(OUT, "bad_nan.nii.gz"))


# ---- preprocessing: percentiles, skimage rescale (order 1 / 0), crop/pad, inverse path

def compact(a):
    """float32-exact values with 9 significant digits (keeps the JSON small)."""
    return [float(f"{x:.9g}") for x in np.asarray(a, np.float64).ravel()]


def preprocessing(expected):
    cases = []
    # (nx, ny, nz, dx, dy, target): up-sampling in x, down-sampling in y, and a pure down-sample
    for nx, ny, nz, dx, dy, target, out_h, out_w in [(13, 9, 2, 1.3, 0.9, 1.0, 14, 6),
                                                     (12, 15, 1, 0.7, 0.7, 1.5, 6, 8),
                                                     (7, 9, 2, 2.2, 1.0, 0.8, 20, 14)]:
        img = rng.normal(200.0, 60.0, (nx, ny, nz)).astype(np.float32)
        img[0, 0, 0] = 5000.0  # an outlier above p99: normalisation must not clip it
        lab = rng.integers(0, 4, (nx, ny, nz)).astype(np.uint8)
        p1 = np.percentile(img, 1)
        p99 = np.percentile(img, 99)
        norm = ((img - p1) / (p99 - p1)).astype(np.float32)
        scale = [dx / target, dy / target]
        rimg = np.stack([rescale(norm[:, :, z], scale, order=1, preserve_range=True, mode="constant",
                                 anti_aliasing=False) for z in range(nz)], axis=2)
        rlab = np.stack([rescale(lab[:, :, z], scale, order=0, preserve_range=True, mode="constant",
                                 anti_aliasing=False) for z in range(nz)], axis=2)
        rx, ry = rimg.shape[:2]

        def crop_or_pad(sl, h, w):
            out = np.zeros((h, w), sl.dtype)
            x, y = sl.shape
            xs, xc = ((x - h) // 2, 0) if x > h else (0, (h - x) // 2)
            ys, yc = ((y - w) // 2, 0) if y > w else (0, (w - y) // 2)
            cx, cy = min(x, h), min(y, w)
            out[xc:xc + cx, yc:yc + cy] = sl[xs:xs + cx, ys:ys + cy]
            return out

        cimg = np.stack([crop_or_pad(rimg[:, :, z], out_h, out_w) for z in range(nz)], axis=0)
        clab = np.stack([crop_or_pad(rlab[:, :, z], out_h, out_w) for z in range(nz)], axis=0)
        # inverse path on random probabilities: uncrop into the rescaled canvas, resize linearly
        # to the native size, argmax
        C = 4
        prob = rng.random((nz, out_h, out_w, C)).astype(np.float32)
        inv = np.zeros((nx, ny, nz), np.uint8)
        for z in range(nz):
            canvas = np.zeros((rx, ry, C), np.float32)
            xs, xc = ((rx - out_h) // 2, 0) if rx > out_h else (0, (out_h - rx) // 2)
            ys, yc = ((ry - out_w) // 2, 0) if ry > out_w else (0, (out_w - ry) // 2)
            cx, cy = min(rx, out_h), min(ry, out_w)
            canvas[xs:xs + cx, ys:ys + cy, :] = prob[z, xc:xc + cx, yc:yc + cy, :]
            back = resize(canvas, (nx, ny, C), order=1, preserve_range=True, mode="constant",
                          anti_aliasing=False)
            inv[:, :, z] = np.argmax(back, axis=-1)
        cases.append({
            "nx": nx, "ny": ny, "nz": nz, "dx": dx, "dy": dy, "target": target,
            "out_h": out_h, "out_w": out_w, "classes": C,
            "image": compact(img.ravel(order="F")),   # NIfTI order, x fastest
            "label": lab.ravel(order="F").astype(int).tolist(),
            "p1": float(p1), "p99": float(p99),
            "rescaled_shape": [int(rx), int(ry)],
            # rescaled and cropped stacks as [z][row = x][col = y]
            "rescaled_image": compact(np.transpose(rimg, (2, 0, 1))),
            "rescaled_label": np.transpose(rlab, (2, 0, 1)).ravel().astype(int).tolist(),
            "cropped_image": compact(cimg),
            "cropped_label": clab.ravel().astype(int).tolist(),
            "prob": compact(prob),             # [z][h][w][c]
            "inverse_label": inv.ravel(order="F").astype(int).tolist(),
        })
    expected["cases"] = cases


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    good_files(expected)
    bad_files()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"version": 1, "generator": "scripts/make_nifti_fixtures.py", "nibabel": nib.__version__,
                   "files": expected}, f, indent=None)
    pre = {}
    preprocessing(pre)
    with open(os.path.join(OUT, "preprocess_expected.json"), "w") as f:
        json.dump({"version": 1, "generator": "scripts/make_nifti_fixtures.py",
                   "skimage": __import__("skimage").__version__, **pre}, f, indent=None)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT)
                if os.path.isfile(os.path.join(OUT, n)))
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
