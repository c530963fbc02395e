"""Measure the shipped tiny checkpoints on the held-out photos (issue 3's numbers and figures).

    python scripts/evaluate_shipped.py [--data ../shared/data/train]

Writes ``data/results/validation.csv`` (per image, codec, rate: real bytes, bpp, PSNR, MS-SSIM),
``data/results/bd_rates.csv`` (BD-rate of tiny DiT-IC against WebP, JPEG and the MSE baseline)
and one figure per rate point ``figures/rate{i}_comparison.png``
(original | tiny DiT-IC | MSE baseline | WebP at the same bpp, with zoomed crops).
JPEG and WebP are matched to the tiny codec's bpp on each image (Pillow quality search).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

import ditic_lite as dl
from ditic_lite.baselines import PillowCodec
from ditic_lite.evaluate import evaluate
from ditic_lite.images import to_pil
from ditic_lite.metrics import bd_rate
from ditic_lite.train import VALIDATION, load_validation_set
from ditic_lite.viz import side_by_side

ROOT = Path(__file__).resolve().parents[1]


def distinct_rate_points(table: pd.DataFrame) -> list[pd.DataFrame]:
    """The (codec, rate) groups of ``table`` whose files differ from every earlier group's."""
    seen, kept = set(), []
    for (codec, _), group in table.groupby(["codec", "rate"]):
        key = (codec, tuple(group.sort_values("image")["bytes"]))
        if key not in seen:
            seen.add(key)
            kept.append(group)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    parser.add_argument("--out", default=str(ROOT / "data" / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        for rel, x in zip(VALIDATION, load_validation_set(Path(args.data))):
            to_pil(x).save(Path(tmp) / rel.replace("/", "_"))
        learned = evaluate(tmp, ["tiny", "mse"], metrics="psnr,ms_ssim")
        tiny = learned[learned.codec == "tiny"]
        # Pillow codecs matched to the tiny codec's mean bpp of each rate point, plus a few higher
        # rates: below its quality-0 size a Pillow codec cannot go, and those targets all give the
        # same files (kept once), so the curves show where JPEG and WebP actually start.
        targets = sorted(tiny.groupby("rate")["bpp"].mean().tolist()) + [0.15, 0.2, 0.3, 0.5]
        pillow = evaluate(tmp, ["jpeg", "webp"], metrics="psnr,ms_ssim", target_bpp=targets)
        pillow = pd.concat(distinct_rate_points(pillow), ignore_index=True)
        table = pd.concat([learned, pillow], ignore_index=True)
        table.to_csv(out / "validation.csv", index=False)

        curves = table.groupby(["codec", "rate"])[["bpp", "psnr", "ms_ssim"]].mean().reset_index()
        rows = []
        for anchor in ("webp", "jpeg", "mse"):
            a, t = curves[curves.codec == anchor], curves[curves.codec == "tiny"]
            for metric in ("psnr", "ms_ssim"):
                try:
                    value = bd_rate(a.bpp, a[metric], t.bpp, t[metric])
                except ValueError as err:  # curves that do not overlap
                    value, note = float("nan"), str(err)
                else:
                    note = ""
                rows.append({"test": "tiny", "anchor": anchor, "metric": metric, "bd_rate_pct": value, "note": note})
        pd.DataFrame(rows).to_csv(out / "bd_rates.csv", index=False)
        print(curves.to_string(index=False))
        print(pd.DataFrame(rows).to_string(index=False))

        # one comparison figure per rate point, on the first validation photo
        photo = to_pil(load_validation_set(Path(args.data))[1])  # the kite
        webp = PillowCodec("webp")
        for rate in dl.load("tiny").rates:
            tiny_codec, mse_codec = dl.load("tiny", rate=rate), dl.load("mse", rate=rate)
            data = tiny_codec.compress(photo)
            rec = tiny_codec.decompress(data)
            mse_data = mse_codec.compress(photo)
            bpp = 8 * len(data) / (photo.width * photo.height)
            webp_data, _ = webp.at_bpp(photo, bpp)
            panels = [photo, rec, mse_codec.decompress(mse_data), webp.decompress(webp_data)]
            titles = ["original", f"tiny DiT-IC {bpp:.3f} bpp",
                      f"MSE baseline {8 * len(mse_data) / (photo.width * photo.height):.3f} bpp",
                      f"WebP {8 * len(webp_data) / (photo.width * photo.height):.3f} bpp"]
            side_by_side(panels, titles, f"rate point {rate} (validation photo)",
                         ROOT / "figures" / f"rate{rate}_comparison.png", crop=(300, 120, 160))


if __name__ == "__main__":
    main()
