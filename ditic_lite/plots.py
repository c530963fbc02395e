"""Plots: rate-distortion curves with the paper's published points, and image grids.

Each function stands alone (takes data, returns a matplotlib ``Figure`` or draws on given axes),
so notebooks can mix them. Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from . import reference

METRIC_LABELS = {
    "psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "lpips": "LPIPS (lower is better)",
    "dists": "DISTS (lower is better)", "fid": "FID (lower is better)",
    "detail": "detail retention (1 = original)",
}
PAPER_LABEL = "paper (published)"


def rate_points(results: pd.DataFrame) -> pd.DataFrame:
    """Average a per-image results table to one point per (codec, steps, rate): mean bpp and metrics."""
    keys = [k for k in ("codec", "steps", "rate") if k in results.columns]
    values = [c for c in ("bpp", *METRIC_LABELS) if c in results.columns]
    return results.groupby(keys, as_index=False)[values].mean().sort_values([*keys[:-1], "bpp"])


def add_reference_curves(ax: plt.Axes, dataset: str = "kodak", metric: str = "psnr",
                         models: Sequence[str] = (reference.PAPER_MODEL,), **style) -> None:
    """Draw the published DiT-IC curve(s) of ``dataset`` on ``ax`` as dashed lines.

    Rows flagged ``psnr_suspect`` in the reference data are skipped for PSNR.
    """
    for model in models:
        pts = reference.curve(dataset, model)
        if metric == "psnr" and "psnr_suspect" in pts:
            pts = pts[~pts["psnr_suspect"].astype(bool)]
        pts = pts.dropna(subset=[metric])
        if pts.empty:
            continue
        label = PAPER_LABEL if len(models) == 1 else f"{PAPER_LABEL}, {model}"
        kw = dict(linestyle="--", marker="x", color="k" if len(models) == 1 else None, alpha=0.8, label=label)
        ax.plot(pts["bpp"], pts[metric], **{**kw, **style})


def plot_rd(results: pd.DataFrame, metrics: Sequence[str] | None = None, reference_dataset: str | None = None,
            reference_models: Sequence[str] = (reference.PAPER_MODEL,), title: str | None = None) -> plt.Figure:
    """Bits per pixel vs each metric, one line per codec (and step count), from a results table.

    ``results`` is the per-image table of ``ditic-lite eval`` (or already averaged). With
    ``reference_dataset`` (e.g. ``"kodak"``) the paper's published curve is added, dashed.
    """
    pts = rate_points(results)
    metrics = [m for m in (metrics or METRIC_LABELS) if m in pts.columns and pts[m].notna().any()]
    if not metrics:
        raise ValueError(f"no metric columns to plot; the table has {list(results.columns)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    group_keys = ["codec", "steps"] if "steps" in pts else ["codec"]
    for ax, metric in zip(axes[0], metrics):
        for key, g in pts.groupby(group_keys, sort=False):
            codec, steps = (key[0], key[1]) if len(group_keys) == 2 else (key[0], 0)
            label = f"{codec}, {steps} step{'s' if steps > 1 else ''}" if steps else str(codec)
            ax.plot(g["bpp"], g[metric], marker="o", label=label)
        if reference_dataset is not None:
            add_reference_curves(ax, reference_dataset, metric, reference_models)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[Image.Image | np.ndarray], titles: Sequence[str] | None = None,
               ncols: int = 4, size: float = 3.0) -> plt.Figure:
    """Show images in a grid with optional titles (no axes)."""
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    first = np.asarray(images[0])
    aspect = first.shape[0] / first.shape[1]
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * aspect * nrows + 0.3 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.asarray(images[i]))
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig
