"""Measure the shipped tiny checkpoints on the held-out photos (issue 3's numbers and figures).

    python scripts/evaluate_shipped.py [--data ../shared/data/train]
    python scripts/evaluate_shipped.py --checkpoints runs/candidate --out runs/candidate/results --figures runs/candidate/figures
                                                     # an export that is not shipped (yet), measured the same way

Writes ``data/results/validation.csv`` (per image, codec, rate: real bytes, bpp, PSNR, MS-SSIM),
``data/results/autoencoder_ceiling.csv`` (the decoder on exact latents, without and with DiT-IC's decoder LoRA: the quality bound),
``data/results/bd_rates.csv`` (BD-rate of tiny DiT-IC against WebP, JPEG, their downscaled
variants and the MSE baseline) and one figure per rate point ``figures/rate{i}_comparison.png``
(original | tiny DiT-IC | MSE baseline | WebP at the same bpp, with zoomed crops).
JPEG and WebP are matched to the tiny codec's bpp on each image (Pillow quality search); their
``-ds`` variants (downscale, code, upscale; best PSNR over scale x quality) reach below the
quality-0 file size, so they also cover the tiny codec's range.
It also writes ``data/results/quant_step_sweep.csv`` and ``figures/quant_step_sweep.png``: every
rate point of both learned codecs with quantisation steps 1/16 to 2.83 (do more bits buy quality?).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch

import ditic_lite as dl
from ditic_lite.baselines import pillow_codec
from ditic_lite.evaluate import evaluate
from ditic_lite.images import to_pil
from ditic_lite.metrics import bd_metric, bd_rate, ms_ssim, psnr
from ditic_lite.training.data import VALIDATION, load_validation_set
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


@torch.no_grad()
def autoencoder_ceiling(data: Path) -> pd.DataFrame:
    """PSNR / MS-SSIM of the tiny decoder on the exact DC-AE latent of each photo, per rate point.

    No codec, no quantisation: an upper bound on what any latent code decoded by this
    autoencoder can reach on these photos, whatever the rate. ``decoder`` says which: ``base``
    (the autoencoder of ``base.safetensors``, LoRA off: issue 20's autoencoder target) or
    ``DiT-IC`` (with the decoder LoRA of DiT-IC's pixel-space tune, which learned on decoded latents).
    """
    rows = []
    images = load_validation_set(data)
    for rate in dl.load("tiny").rates:
        model = dl.load("tiny", rate=rate).model.eval()
        for rel, x in zip(VALIDATION, images):
            latent = model.encode_latents(x)[0]
            with model.lora_disabled(("vae",)):
                base = model.decode_latent(latent)
            for decoder, rec in (("base", base), ("DiT-IC", model.decode_latent(latent))):
                rows.append({"image": rel, "rate": rate, "decoder": decoder, "psnr": psnr(x, rec), "ms_ssim": ms_ssim(x, rec)})
    return pd.DataFrame(rows)


def write_autoencoder_ceiling(data: Path, out: Path) -> None:
    """:func:`autoencoder_ceiling` to ``out/autoencoder_ceiling.csv``, and its means printed."""
    ceiling = autoencoder_ceiling(data)
    ceiling.to_csv(out / "autoencoder_ceiling.csv", index=False)
    print("autoencoder alone (no codec), validation means:")
    print(ceiling.groupby(["decoder", "rate"])[["psnr", "ms_ssim"]].mean().round(4).to_string())


def efficient_points(curve: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, list[int]]:
    """The rate points of ``curve`` that no cheaper point beats in ``metric``, and the dropped ids.

    A Bjontegaard delta needs a curve whose quality grows with the rate; a rate point with more
    bits and a lower score than a cheaper one is one nobody would choose, so it is left out (and
    named in the table) instead of making the whole delta undefined.
    """
    kept, dropped, best = [], [], -float("inf")
    for _, row in curve.sort_values("bpp").iterrows():
        if row[metric] > best:
            kept.append(row)
            best = row[metric]
        else:
            dropped.append(int(row["rate"]))
    return pd.DataFrame(kept), dropped


def write_bd_rates(table: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Bjontegaard deltas of tiny DiT-IC against every anchor -> ``out/bd_rates.csv``.

    ``bd_rate_pct``: rate change at equal PSNR / MS-SSIM (needs overlapping quality ranges);
    ``bd_metric``: PSNR / MS-SSIM change at equal rate (needs overlapping rate ranges).
    """
    curves = table.groupby(["codec", "rate"])[["bpp", "psnr", "ms_ssim"]].mean().reset_index()
    rows = []
    for anchor in ("webp", "jpeg", "webp-ds", "jpeg-ds", "mse"):
        for metric in ("psnr", "ms_ssim"):
            a, a_dropped = efficient_points(curves[curves.codec == anchor], metric)
            t, t_dropped = efficient_points(curves[curves.codec == "tiny"], metric)
            notes = [f"{who} rate point(s) {ids} left out (a cheaper point scores higher)"
                     for who, ids in (("tiny", t_dropped), (anchor, a_dropped)) if ids]
            deltas = {}
            for column, delta in (("bd_rate_pct", bd_rate), ("bd_metric", bd_metric)):
                try:
                    deltas[column] = delta(a.bpp, a[metric], t.bpp, t[metric])
                except ValueError as err:  # curves that do not overlap
                    deltas[column] = float("nan")
                    notes.append(f"{column}: {err}")
            rows.append({"test": "tiny", "anchor": anchor, "metric": metric, **deltas, "note": "; ".join(notes)})
    bd = pd.DataFrame(rows)
    bd.to_csv(out / "bd_rates.csv", index=False)
    print(curves.to_string(index=False))
    print(bd.to_string(index=False))
    return bd


SWEEP_STEPS = (1 / 16, *dl.teaching.QUANT_STEPS)
"""1/16: y nearly exact (the most the codec's decoder can make of y), then the notebook's steps."""


def write_quant_step_sweep(data: Path, out: Path) -> pd.DataFrame:
    """Each rate point of tiny DiT-IC and the MSE baseline with each quantisation step on the
    validation photos -> ``out/quant_step_sweep.csv`` and ``figures/quant_step_sweep.png``."""
    photos = load_validation_set(data)
    sweep = dl.teaching.quant_step_sweep(dl.teaching.CodecCache(), photos, names=["tiny", "mse"],
                                         quant_steps=SWEEP_STEPS, progress=True)
    sweep["image"] = [VALIDATION[i] for i in sweep["image"]]
    sweep.to_csv(out / "quant_step_sweep.csv", index=False)
    title = f"quantisation step of y, {len(photos)} validation photos; large dot = step 1 (as trained)"
    dl.viz.save(dl.viz.quant_step_chart(sweep, title=title), "quant_step_sweep.png")
    print(dl.teaching.quant_step_verdict(sweep))
    return sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    parser.add_argument("--out", default=str(ROOT / "data" / "results"))
    parser.add_argument("--bd-only", action="store_true", help="recompute bd_rates.csv from validation.csv")
    parser.add_argument("--sweep-only", action="store_true", help="only the quantisation-step sweep")
    parser.add_argument("--ceiling-only", action="store_true", help="only the decoder on exact latents")
    parser.add_argument("--checkpoints", default=None, help="a checkpoints folder to measure (default: the shipped one)")
    parser.add_argument("--figures", default=str(ROOT / "figures"), help="where the per-rate figures go")
    args = parser.parse_args()
    if args.checkpoints:  # every load by name reads this folder (zoo.load reads it at call time)
        dl.zoo.CHECKPOINT_DIR = Path(args.checkpoints).resolve()
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    if args.bd_only:
        write_bd_rates(pd.read_csv(out / "validation.csv"), out)
        return
    if args.sweep_only:
        write_quant_step_sweep(Path(args.data), out)
        return
    if args.ceiling_only:
        write_autoencoder_ceiling(Path(args.data), out)
        return

    with tempfile.TemporaryDirectory() as tmp:
        for rel, x in zip(VALIDATION, load_validation_set(Path(args.data))):
            to_pil(x).save(Path(tmp) / rel.replace("/", "_"))
        learned = evaluate(tmp, ["tiny", "mse"], metrics="psnr,ms_ssim")
        tiny = learned[learned.codec == "tiny"]
        # Pillow codecs matched to the tiny codec's mean bpp of each rate point, plus a few higher
        # rates: below its quality-0 size a Pillow codec cannot go, and those targets all give the
        # same files (kept once), so the curves show where JPEG and WebP actually start.
        targets = sorted(tiny.groupby("rate")["bpp"].mean().tolist()) + [0.15, 0.2, 0.3, 0.5]
        pillow = evaluate(tmp, ["jpeg", "webp", "jpeg-ds", "webp-ds"], metrics="psnr,ms_ssim", target_bpp=targets)
        pillow = pd.concat(distinct_rate_points(pillow), ignore_index=True)
        table = pd.concat([learned, pillow], ignore_index=True)
        table.to_csv(out / "validation.csv", index=False)
        write_autoencoder_ceiling(Path(args.data), out)

        write_bd_rates(table, out)
        write_quant_step_sweep(Path(args.data), out)

        # one comparison figure per rate point, on the first validation photo
        photo = to_pil(load_validation_set(Path(args.data))[1])  # the kite
        webp = pillow_codec("webp-ds")
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
                      f"WebP (downscaled) {8 * len(webp_data) / (photo.width * photo.height):.3f} bpp"]
            side_by_side(panels, titles, f"rate point {rate} (validation photo)",
                         figures / f"rate{rate}_comparison.png",
                         crop=dl.teaching.zoom_box(photo, 160))  # the most detailed square, not flat sky


if __name__ == "__main__":
    main()
