"""Notebook ``05_rate_perception_curves``: rate-distortion tables of the kit's models and Pillow
baselines, BD-rates, and which perceptual metrics can run here.

:func:`perceptual_metrics`, :func:`default_metrics` (also used by notebook 07), :func:`rd_table`,
:func:`bd_rate_table`, :func:`rd_summary`, :func:`lowest_rate_scores`, :func:`reference_caption`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from .. import metrics as M
from ..notebook import online, samples_dir


PERCEPTUAL_WEIGHTS = {"lpips": "alexnet-owt-7be5be79.pth", "dists": "vgg16-397923af.pth"}
"""torchvision backbone files LPIPS / DISTS need (looked up in the torch hub cache)."""
PERCEPTUAL_WEIGHTS_MB = {"lpips": 233, "dists": 528}
"""Their download sizes in MB (torchvision's AlexNet and VGG16 ImageNet weights)."""


def perceptual_metrics(allow_download: bool = False) -> list[str]:
    """Those of LPIPS / DISTS that can be computed here: their backbone weights are in the torch
    hub cache, or ``allow_download`` and :func:`ditic_lite.notebook.online` (then it says how much
    it downloads first). By default nothing is downloaded, so that a notebook never starts a
    download unasked. Explained in notebook ``05_rate_perception_curves``."""
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    cached = {m for m, f in PERCEPTUAL_WEIGHTS.items() if (hub / f).exists()}
    fetch = [m for m in PERCEPTUAL_WEIGHTS if m not in cached] if allow_download and online() else []
    if fetch:
        print(f"downloading the backbone weights of {', '.join(m.upper() for m in fetch)} from torchvision: about "
              f"{sum(PERCEPTUAL_WEIGHTS_MB[m] for m in fetch)} MB, once, into {hub}")
    return [m for m in PERCEPTUAL_WEIGHTS if (m in cached or m in fetch) and M.available(m)]


def default_metrics(download: bool = False) -> list[str]:
    """PSNR, MS-SSIM, the offline perception proxy ``detail`` (``perception.detail_retention``) and
    whichever of LPIPS / DISTS :func:`perceptual_metrics` allows (``download``: fetch their
    weights when online). Explained in notebook ``05_rate_perception_curves``."""
    return ["psnr", "ms_ssim", "detail", *perceptual_metrics(download)]


def rd_table(data: str | Path | None = None, learned: Sequence[str] = ("tiny", "mse"),
             pillow: Sequence[str] = ("jpeg", "webp", "webp-ds"), pillow_rates: Sequence[int] = (0, 1, 2, 3),
             max_images: int | None = None, metrics: Sequence[str] | None = None,
             steps: Sequence[int] = (1,)) -> pd.DataFrame:
    """Per-image rate-distortion table of the kit's models (every shipped rate point) and Pillow
    baselines (the lowest ``pillow_rates`` of their ladders, ``baselines.LADDERS`` and, for the
    downscaled ``-ds`` variants that reach the DiT-IC rates, ``baselines.DOWNSCALED_LADDER``) on
    ``data`` (default: the sample images), via :func:`ditic_lite.evaluate.evaluate`.
    ``metrics`` default: :func:`default_metrics` (no download).
    Explained in notebook ``05_rate_perception_curves``.
    """
    from ..evaluate import evaluate

    data = samples_dir() if data is None else data
    metrics = default_metrics() if metrics is None else list(metrics)
    parts = [evaluate(data, list(learned), steps=steps, metrics=metrics, max_images=max_images, progress=False)]
    if pillow:
        parts.append(evaluate(data, list(pillow), metrics=metrics, rates=list(pillow_rates),
                              max_images=max_images, progress=False))
    return pd.concat(parts, ignore_index=True)


def bd_rate_table(results: pd.DataFrame, anchor: str | Sequence[str] = "jpeg",
                  metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """BD-rate (%) of every codec against ``anchor`` (or each of several anchors) per metric, from
    mean rate points. Only metrics with a direction (``metrics.HIGHER_IS_BETTER``) are used: the
    detail ratio, best at 1, has none.

    One row per (codec, metric): ``bd_rate`` (negative = fewer bits at equal quality), ``points``
    and ``note`` saying why a value is missing (fewer than 2 rate points, a non-monotonic curve,
    no overlap). Explained in notebook ``05_rate_perception_curves``.
    """
    from ..plots import rate_points

    if not isinstance(anchor, str):
        return pd.concat([bd_rate_table(results, a, metrics) for a in anchor], ignore_index=True)
    pts = rate_points(results)
    metrics = [m for m in (metrics or ("psnr", "ms_ssim", "lpips", "dists"))
               if m in M.HIGHER_IS_BETTER and m in pts and pts[m].notna().any()]
    keys = ["codec", "steps"] if "steps" in pts else ["codec"]
    anchor_pts = pts[pts["codec"] == anchor]
    if anchor_pts.empty:
        raise ValueError(f"anchor {anchor!r} not in the table; codecs are {sorted(pts['codec'].unique())}")
    rows = []
    for key, g in pts.groupby(keys, sort=False):
        codec = key[0] if isinstance(key, tuple) else key
        if codec == anchor:
            continue
        label = f"{codec} ({int(key[1])} step)" if isinstance(key, tuple) and key[1] else str(codec)
        for metric in metrics:
            row = {"codec": label, "anchor": anchor, "metric": metric, "points": len(g), "bd_rate": float("nan"), "note": ""}
            if len(g) < 2:
                row["note"] = "needs >= 2 rate points (1 measured)"
            else:
                try:
                    row["bd_rate"] = M.bd_rate(anchor_pts["bpp"], anchor_pts[metric], g["bpp"], g[metric])
                except ValueError as err:
                    row["note"] = str(err).split(";")[0][:90]
            rows.append(row)
    return pd.DataFrame(rows)


def rd_summary(results: pd.DataFrame, metric: str = "psnr") -> str:
    """Sentences from a results table: per codec the range of bpp it reached and its ``metric``
    there, and which codec is best at the lowest rate every codec reaches.
    Explained in notebook ``05_rate_perception_curves``.
    """
    from ..plots import rate_points

    pts = rate_points(results)
    unit = " dB" if metric == "psnr" else ""
    lines = []
    for codec, g in pts.groupby("codec", sort=False):
        lo, hi = g.iloc[0], g.iloc[-1]
        span = f"{lo['bpp']:.3f} bpp ({lo[metric]:.3f}{unit})"
        if len(g) > 1:
            span += f" to {hi['bpp']:.3f} bpp ({hi[metric]:.3f}{unit})"
        lines.append(f"{codec}: {len(g)} rate point(s), {span}")
    common = pts.groupby("codec")["bpp"].min().max()
    near = pts.loc[(pts["bpp"] - common).abs().groupby(pts["codec"]).idxmin()]
    best = near.loc[near[metric].idxmax() if M.HIGHER_IS_BETTER.get(metric, True) else near[metric].idxmin()]
    lines.append(f"Near {common:.3f} bpp (the highest of the codecs' lowest rates), the best {metric} is {best['codec']} "
                 f"({best[metric]:.3f}{unit} at {best['bpp']:.3f} bpp).")
    return "\n".join(lines)


def lowest_rate_scores(results: pd.DataFrame, codec: str, metric: str = "psnr") -> pd.Series:
    """Per image: ``metric`` of ``codec`` at its lowest rate point (the first rate id), highest
    first. How much the photo alone moves a curve. Explained in notebook ``05_rate_perception_curves``."""
    rows = results[results["codec"] == codec]
    rows = rows[rows["rate"] == rows["rate"].min()]
    return rows.groupby("image")[metric].mean().sort_values(ascending=False)


def reference_caption(results: pd.DataFrame, codec, measured_on: str, dataset: str = "Kodak") -> str:
    """What the published curve can and cannot be compared with, computed from the run: which
    model (``codec``, loaded: its name and parameter count) on which photos each side is, and
    (with two photos or more) how far apart the same model lands on two photos of this run.
    Explained in notebook ``05_rate_perception_curves``."""
    from ..model import count_parameters
    from ..notebook import OFFICIAL_PARAMS

    official = sum(OFFICIAL_PARAMS.values())
    test, model_parameters = codec.name, count_parameters(codec.model)
    n = results.loc[results["codec"] == test, "image"].nunique()
    same_photos = measured_on == dataset
    lines = [f"Measured here: {test} ({model_parameters / 1e6:,.1f} M parameters) on {n} photo(s) ({measured_on}). "
             f"Published: the authors' DiT-IC ({official / 1e9:.2f} B parameters) on the 24 {dataset} photos."]
    if same_photos and test == "official":
        lines.append(f"Same model family on the same photos ({n} of the 24): the heights can be compared, "
                     "with the spread of a few photos in mind.")
    else:
        lines.append("Different photos and a different model, drawn apart on purpose: do not compare the heights "
                     "of the two figures.")
    scores = lowest_rate_scores(results, test)
    if len(scores) >= 2:
        lines.append(f"How much the photo alone matters: at its lowest rate point the same {test} model reaches "
                     f"{scores.iloc[0]:.1f} dB on {scores.index[0]} and {scores.iloc[-1]:.1f} dB on {scores.index[-1]}, "
                     f"{scores.iloc[0] - scores.iloc[-1]:.1f} dB apart.")
    else:
        lines.append("This run measured one photo, so it cannot show how much photos differ (Exercise 3 tries another).")
    return "\n".join(lines)
