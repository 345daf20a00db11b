#!/usr/bin/env python3
"""Compares contraseg's N4 bias-field correction with SimpleITK's on the same NIfTI volumes.

Developer tool (needs SimpleITK, nibabel and numpy from PyPI; the build does not use it):

    python3 scripts/n4_compare.py --contraseg build/contraseg IMAGE.nii.gz [IMAGE2.nii.gz ...]
    python3 scripts/n4_compare.py --contraseg build/contraseg --make-phantom /tmp/phantom.nii.gz

SimpleITK runs N4 as the paper did (docs/method.md §6.2): the image cast to float32, no mask,
convergence threshold 0.001, 4 levels of 50 iterations, the rest at its defaults. contraseg runs
through `contraseg preprocess --n4` on a one-case ACDC folder made for the purpose; its N4 cache
then holds the corrected volume at native resolution, which is what is compared. Prints, per
image, the largest and the mean relative difference |contraseg - SimpleITK| / max|SimpleITK|, the
largest voxel-wise relative difference over voxels above 1% of the maximum, and both timings.
"""
import argparse
import glob
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
import SimpleITK as sitk


def simpleitk_n4(path):
    image = sitk.ReadImage(path, sitk.sitkFloat32)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetConvergenceThreshold(0.001)
    corrector.SetMaximumNumberOfIterations([50] * 4)
    t0 = time.time()
    out = corrector.Execute(image)  # no mask
    secs = time.time() - t0
    # SimpleITK's arrays are [z][y][x]; nibabel's (below) are [x][y][z].
    return np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0)).astype(np.float64), secs


def contraseg_n4(binary, path, work):
    data = os.path.join(work, "data", "patient001")
    os.makedirs(data)
    target = os.path.join(data, "patient001_frame01.nii.gz")
    if path.endswith(".gz"):
        shutil.copyfile(path, target)
    else:  # the ACDC layout names .nii.gz files: the same bytes, compressed
        with open(path, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    cache = os.path.join(work, "cache")
    cmd = [binary, "preprocess", "--dataset", "acdc", "--data", os.path.join(work, "data"), "--out",
           os.path.join(work, "out"), "--n4", "--n4-cache", cache]
    t0 = time.time()
    run = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.time() - t0
    if run.returncode != 0:
        sys.exit(f"contraseg failed:\n{run.stdout}{run.stderr}")
    entries = glob.glob(os.path.join(cache, "*.nii.gz"))
    if len(entries) != 1:
        sys.exit(f"expected one N4 cache entry in {cache}, found {entries}")
    return np.asarray(nib.load(entries[0]).dataobj, dtype=np.float64), secs


def make_phantom(path, seed=7):
    """A 64x64x16 volume at 1.5 x 1.5 x 8 mm: three tissue classes with 1% noise under a smooth
    field of max/min ratio ~1.9 (the shape of tests/io/test_n4.cpp's phantom)."""
    nx, ny, nz = 64, 64, 16
    x, y, z = np.meshgrid((np.arange(nx) + 0.5) / nx - 0.5, (np.arange(ny) + 0.5) / ny - 0.5,
                          (np.arange(nz) + 0.5) / nz - 0.5, indexing="ij")
    v = np.full((nx, ny, nz), 100.0)
    v[x * x / 0.09 + y * y / 0.05 + z * z / 0.2 < 1] = 160.0
    v[(x - 0.05) ** 2 + y * y + 0.2 * z * z < 0.012] = 240.0
    v *= 1 + 0.01 * np.random.default_rng(seed).standard_normal(v.shape)
    v *= np.exp(0.28 * x - 0.2 * y + 0.48 * x * y + 0.4 * y * y + 0.12 * z)
    nib.save(nib.Nifti1Image(v.astype(np.float32), np.diag([1.5, 1.5, 8.0, 1.0])), path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images", nargs="*", help="NIfTI volumes (3D)")
    ap.add_argument("--contraseg", default="build/contraseg", help="the contraseg binary")
    ap.add_argument("--make-phantom", metavar="PATH", help="write the phantom there and compare on it too")
    a = ap.parse_args()
    images = list(a.images)
    if a.make_phantom:
        make_phantom(a.make_phantom)
        images.append(a.make_phantom)
    if not images:
        ap.error("no image (give NIfTI files, or --make-phantom PATH)")
    print(f"SimpleITK {sitk.Version.VersionString()} (ITK {sitk.Version.ITKVersionString()})")
    for path in images:
        ref, t_ref = simpleitk_n4(path)
        with tempfile.TemporaryDirectory() as work:
            ours, t_ours = contraseg_n4(a.contraseg, path, work)
        if ours.shape != ref.shape:
            sys.exit(f"{path}: contraseg gave {ours.shape}, SimpleITK {ref.shape}")
        diff = np.abs(ours - ref)
        scale = np.abs(ref).max()
        bright = np.abs(ref) > 0.01 * scale
        voxel_rel = (diff[bright] / np.abs(ref[bright])).max() if bright.any() else 0.0
        print(f"{path}: {ref.shape[0]}x{ref.shape[1]}x{ref.shape[2]}  max |d|/max|ref| {diff.max() / scale:.3e}  "
              f"mean |d|/max|ref| {diff.mean() / scale:.3e}  max voxel |d|/|ref| (>1% of max) {voxel_rel:.3e}  "
              f"SimpleITK {t_ref:.1f} s, contraseg {t_ours:.1f} s (its whole preprocess)")


if __name__ == "__main__":
    main()
