"""Compare checkpoint folders on the six validation photos: bytes, PSNR, MS-SSIM, fine-detail retention.

    python scripts/compare_checkpoints.py --data runs/data --out data/results/tune_ablation.csv \\
        ditic_lite/checkpoints runs/candidate_nogan [more folders ...]

Each folder is a ``ditic_lite/checkpoints`` layout (an export, ``shipping.export(runs, out=...)``).
Every rate point of DiT-IC (``tiny``) in each folder, and of the MSE baseline of the first folder,
codes every validation photo (real file bytes); per photo it records bpp, PSNR, MS-SSIM and
``detail`` (:func:`ditic_lite.spectrum.detail_retention`, 1 = the original's fine-detail energy).
It prints the means per folder and rate point, and for each folder the paired difference of the
detail error ``|log2 detail|`` against the MSE baseline at the same rate point (> 0: DiT-IC closer
to the original's detail) with its standard error. Used to choose between candidates of a training
run before one is shipped; it needs the training collection, so it is not part of the tests.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ditic_lite import zoo
from ditic_lite.shipping import validation_rows
from ditic_lite.spectrum import detail_error
from ditic_lite.train_config import DEFAULT_DATA
from ditic_lite.train_data import VALIDATION, validation_images


def measure(folders: list[Path], images: list) -> pd.DataFrame:
    """One row per folder, codec, rate point and photo."""
    rows = []
    for folder in folders:
        for name in (["tiny", "mse"] if folder == folders[0] else ["tiny"]):
            for rate in zoo.available_rates(name, folder):
                codec = zoo.load(name, rate=rate, checkpoints=folder)
                for photo, row in zip(VALIDATION, validation_rows(codec, images, detail=True)):
                    rows.append({"folder": str(folder), "codec": name, "rate": rate, "image": photo, **row})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="checkpoint folders; the first one's MSE baseline is the anchor")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the training collection (its validation photos)")
    parser.add_argument("--out", type=Path, default=None, help="write the per-photo table here (CSV)")
    args = parser.parse_args()
    table = measure(args.folders, validation_images(args.data))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    pd.set_option("display.width", 200)
    print(table.groupby(["folder", "codec", "rate"])[["bpp", "psnr", "ms_ssim", "detail"]].mean().round(4))
    anchor = table[table["codec"] == "mse"].set_index(["rate", "image"])["detail"]
    for folder, group in table[table["codec"] == "tiny"].groupby("folder", sort=False):
        diff = (detail_error(anchor) - detail_error(group.set_index(["rate", "image"])["detail"])).to_numpy()
        print(f"{folder}: detail error of the MSE baseline minus DiT-IC's, same rate point: "
              f"{diff.mean():+.3f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.3f} (n = {len(diff)})")


if __name__ == "__main__":
    main()
