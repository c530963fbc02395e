"""Teaching figures: side-by-side comparisons, zoomed crops, the pipeline diagram, latent
heatmaps, histograms, image grids and the small charts of the notebooks.

Rate-distortion curves live in ``plots.py``; this module draws pictures of images and latents.
Used by the ``demo`` command and the notebooks (each function names its notebook). Every
function returns a matplotlib ``Figure``; :func:`save` writes it into ``figures/`` small enough
for the README gallery.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "nbagg", "widget", "ipympl"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import ScalarFormatter
import numpy as np
import pandas as pd
from PIL import Image


def side_by_side(
    images: Sequence[Image.Image],
    titles: Sequence[str],
    suptitle: str = "",
    path: str | Path | None = None,
    crop: tuple[int, int, int] | None = None,
    ncols: int = 5,
) -> plt.Figure:
    """Images in rows of at most ``ncols`` (and, with ``crop=(x, y, size)``, a zoomed crop of
    each below its image, the crop's square drawn on the full image).

    Used by ``ditic-lite demo`` and notebook ``01_quickstart``.
    """
    n = len(images)
    ncols = max(1, min(ncols, n))
    groups = -(-n // ncols)
    per = 2 if crop else 1
    w, h = images[0].size
    fig, axes = plt.subplots(groups * per, ncols, figsize=(3.6 * ncols, groups * per * (3.6 * h / w + 0.5)),
                             squeeze=False)
    for i, (im, title) in enumerate(zip(images, titles)):
        row, col = per * (i // ncols), i % ncols
        axes[row, col].imshow(im)
        axes[row, col].set_title(title, fontsize=10)
        if crop:
            x, y, s = crop
            axes[row, col].add_patch(plt.Rectangle((x, y), s, s, fill=False, color="yellow", lw=1.5))
            axes[row + 1, col].imshow(im.crop((x, y, x + s, y + s)), interpolation="nearest")
            axes[row + 1, col].set_title(f"zoom ({s}x{s} px)", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def latent_heatmap(ax: plt.Axes, values: np.ndarray, title: str, cmap: str = "magma",
                   vmin: float | None = None, vmax: float | None = None) -> None:
    """Draw a 2-D map (e.g. channel-mean std or pseudo-timestep) with a colour bar.

    Used by notebook ``02_variance_and_pseudo_timesteps``.
    """
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


# ------------------------------------------------------------------------------------ saving
GALLERY_MAX_BYTES = 200_000


def save(fig: plt.Figure, name: str, dpi: int = 90, max_bytes: int = GALLERY_MAX_BYTES) -> None:
    """Save ``fig`` as ``figures/<name>`` (see :func:`ditic_lite.notebook.figures_dir`) and print
    where it went. A PNG above ``max_bytes`` is stored with a 256-colour palette, then at lower
    resolution, until it fits (README gallery figures stay small). Used by every notebook, first
    in ``01_quickstart``."""
    import io

    from .notebook import figure_path

    path = figure_path(name)
    for scale in (1.0, 0.8, 0.65, 0.5, 0.4, 0.3):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=max(20, int(dpi * scale)), bbox_inches="tight")
        data = buf.getvalue()
        if len(data) > max_bytes:  # photos and noise: a palette PNG is about 3x smaller
            out = io.BytesIO()
            Image.open(io.BytesIO(data)).convert("RGB").quantize(256).save(out, format="png", optimize=True)
            data = out.getvalue()
        if len(data) <= max_bytes:
            break
    path.write_bytes(data)
    print(f"figure saved: {path.parent.name}/{path.name} ({len(data) / 1000:.0f} kB)")


# ------------------------------------------------------------------------------------ 01 quickstart
def pipeline_diagram(shapes: pd.DataFrame, title: str = "DiT-IC pipeline (shapes read off the model)") -> plt.Figure:
    """Boxes and arrows: encoder -> 64x code -> entropy coding -> 32x latent -> one-step DiT ->
    decoder, each labelled with the tensors and shapes of :func:`ditic_lite.teaching.pipeline_shapes`.

    Used by notebook ``01_quickstart``.
    """
    stages = list(dict.fromkeys(shapes["stage"]))
    colours = {"input": "#e8e8e8", "encoder": "#cfe2f3", "64x code": "#fce5cd", "entropy coding": "#f4cccc",
               "32x latent": "#d9ead3", "latent condition": "#ead1dc", "one-step DiT": "#fff2cc", "decoder": "#cfe2f3"}
    fig, ax = plt.subplots(figsize=(2.1 * len(stages), 3.0))
    ax.set_xlim(0, len(stages))
    ax.set_ylim(0, 1)
    ax.axis("off")
    for i, stage in enumerate(stages):
        rows = shapes[shapes["stage"] == stage]
        lines = [textwrap.fill(r.tensor, 22) + f"\n{r.shape}" + (f"  ({r.scale})" if r.scale not in ("-", "1") else "")
                 for r in rows.itertuples()]
        ax.add_patch(plt.Rectangle((i + 0.04, 0.02), 0.92, 0.8, facecolor=colours.get(stage, "#eeeeee"),
                                   edgecolor="0.3", lw=1.0))
        ax.text(i + 0.5, 0.86, stage, ha="center", va="bottom", fontsize=9, weight="bold")
        ax.text(i + 0.5, 0.42, "\n".join(lines), ha="center", va="center", fontsize=8.5, linespacing=1.1)
        if i:
            ax.annotate("", xy=(i + 0.04, 0.42), xytext=(i - 0.04, 0.42),
                        arrowprops=dict(arrowstyle="->", lw=1.2, color="0.2"))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ 02 variance
def heatmaps(image: Image.Image, maps: Mapping[str, np.ndarray], cmaps: Sequence[str] | None = None,
             suptitle: str = "") -> plt.Figure:
    """The image followed by one heatmap per entry of ``maps`` (latent-resolution 2-D arrays).

    Used by notebooks ``02_variance_and_pseudo_timesteps`` and ``06_alignment_mechanisms``.
    """
    n = len(maps) + 1
    w, h = image.size
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6 * h / w + 0.7), squeeze=False)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("image", fontsize=10)
    axes[0, 0].axis("off")
    for i, (title, values) in enumerate(maps.items()):
        cmap = cmaps[i] if cmaps else "magma"
        latent_heatmap(axes[0, i + 1], np.asarray(values), title, cmap=cmap)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return fig


def histograms(values: Mapping[str, np.ndarray], bins: int = 30, xlabel: Sequence[str] | None = None,
               log: Sequence[bool] | None = None) -> plt.Figure:
    """One histogram per entry (e.g. predicted std and pseudo-timestep over all latent values);
    ``log[i]`` gives panel ``i`` logarithmic bins and x axis (for long-tailed positive values).

    Used by notebook ``02_variance_and_pseudo_timesteps``.
    """
    fig, axes = plt.subplots(1, len(values), figsize=(4.0 * len(values), 2.8), squeeze=False)
    for i, (title, v) in enumerate(values.items()):
        ax = axes[0, i]
        v = np.asarray(v, dtype=float).ravel()
        edges: int | np.ndarray = bins
        if log and log[i]:
            v = v[v > 0]
            edges = np.geomspace(v.min(), v.max(), bins + 1) if v.min() < v.max() else bins
            ax.set_xscale("log")
        ax.hist(v, bins=edges, color=f"C{i}", alpha=0.85)
        ax.set_title(title, fontsize=10)
        if xlabel:
            ax.set_xlabel(xlabel[i])
        ax.set_ylabel("count")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def scatter(table: pd.DataFrame, x: str, y: str, title: str = "", ax: plt.Axes | None = None,
            xlabel: str | None = None, ylabel: str | None = None) -> plt.Figure:
    """Scatter of two columns with a least-squares line (e.g. texture vs predicted std); axis
    names default to the column names.

    Used by notebook ``02_variance_and_pseudo_timesteps``.
    """
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.2, 3.4))
    ax = ax if ax is not None else fig.add_subplot(111)
    a, b = table[x].to_numpy(float), table[y].to_numpy(float)
    ax.scatter(a, b, s=10, alpha=0.6)
    if np.ptp(a) > 0 and np.ptp(b) > 0:
        k, c = np.polyfit(a, b, 1)
        xs = np.linspace(a.min(), a.max(), 50)
        ax.plot(xs, k * xs + c, color="C3", lw=1.5, label=f"fit: slope {k:.3g}")
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ 03 steps
def comparison_grid(rows: Mapping[str, Mapping[Any, Image.Image]], col_label: str = "K = {}",
                    crop: tuple[int, int, int] | None = None, size: float = 2.4, reference: Image.Image | None = None) -> plt.Figure:
    """A grid: one row per method, one column per key (e.g. number of steps), optional zoomed
    crop ``(x, y, size)`` of every image and the original in the first column.

    Used by notebook ``03_one_step_vs_multi_step``.
    """
    keys = list(dict.fromkeys(k for r in rows.values() for k in r))
    ncols = len(keys) + (reference is not None)
    first = next(iter(next(iter(rows.values())).values()))
    show = (lambda im: im.crop((crop[0], crop[1], crop[0] + crop[2], crop[1] + crop[2]))) if crop else (lambda im: im)
    w, h = show(first).size
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * h / w * len(rows) + 0.4 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        offset = 0
        if reference is not None:
            axes[r, 0].imshow(show(reference), interpolation="nearest")
            axes[r, 0].set_title("original", fontsize=8)
            offset = 1
        for c, key in enumerate(keys):
            ax = axes[r, c + offset]
            if key in images:
                ax.imshow(show(images[key]), interpolation="nearest")
                ax.set_title(col_label.format(key), fontsize=8)
        axes[r, 0].text(-0.08, 0.5, label, transform=axes[r, 0].transAxes, rotation=90,
                             ha="right", va="center", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.tight_layout()
    return fig


def steps_chart(table: pd.DataFrame, metrics: Sequence[str] = ("psnr", "ms_ssim"), time_col: str = "decode_s") -> plt.Figure:
    """Quality and decode time against the number of steps, one line per ``method``.

    Used by notebook ``03_one_step_vs_multi_step``.
    """
    cols = [m for m in metrics if m in table and table[m].notna().any()] + [time_col]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.8 * len(cols), 3.0), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for i, (method, g) in enumerate(table.groupby("method", sort=False)):
            ax.plot(g["steps"], g[col], marker="o", color=f"C{i}", label=method)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(table["steps"].unique()))
        ax.get_xaxis().set_major_formatter(ScalarFormatter())
        ax.set_xlabel("steps K (DiT calls)")
        ax.set_ylabel({"psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "decode_s": "decode time (s)"}.get(col, col))
        if col == time_col:
            ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ 05 curves
def _log_bpp_axis(ax: plt.Axes) -> None:
    """Bits per pixel on a log axis with plain tick labels (0.02, 0.05, 0.1, ...)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("bits per pixel (log scale)")


def rd_with_reference(results: pd.DataFrame, metrics: Sequence[str] = ("psnr", "ms_ssim"),
                      dataset: str = "kodak", title: str = "") -> plt.Figure:
    """Our measurements (one curve per codec, log bpp axis) and, in a separate panel below each
    metric the paper published, the published DiT-IC curve on ``dataset``: the two are never drawn
    on the same axes. The ``detail`` ratio (best at 1, marked) has no published counterpart.

    Used by notebook ``05_rate_perception_curves``.
    """
    from . import plots, reference

    pts = plots.rate_points(results)
    metrics = [m for m in metrics if m in pts and pts[m].notna().any()]
    fig, axes = plt.subplots(2, len(metrics), figsize=(4.4 * len(metrics), 6.8), squeeze=False)
    keys = ["codec", "steps"] if "steps" in pts else ["codec"]
    published = reference.curve(dataset) if dataset else pd.DataFrame()
    for j, metric in enumerate(metrics):
        ax = axes[0, j]
        for key, g in pts.groupby(keys, sort=False):
            codec = key[0] if isinstance(key, tuple) else key
            ax.plot(g["bpp"], g[metric], marker="o", label=str(codec))
        if metric == "detail":
            ax.axhline(1.0, color="k", lw=0.8, ls=":", label="original")
            ax.set_yscale("log")
        ax.set_title(f"measured here: {plots.METRIC_LABELS.get(metric, metric)}", fontsize=9)
        _log_bpp_axis(ax)
        ax.set_ylabel(plots.METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3, which="both")
        ref = axes[1, j]
        if metric not in published or published[metric].isna().all():
            ref.axis("off")
            ref.text(0.5, 0.5, f"no published {metric} curve", ha="center", va="center", fontsize=9,
                     transform=ref.transAxes, color="0.4")
            continue
        plots.add_reference_curves(ref, dataset, metric)
        ref.set_title(f"published DiT-IC on {reference.dataset_name(dataset)} (Shi et al., CVPR 2026)", fontsize=8)
        _log_bpp_axis(ref)
        ref.set_ylabel(plots.METRIC_LABELS.get(metric, metric))
        ref.grid(alpha=0.3, which="both")
        if ref.get_legend_handles_labels()[0]:
            ref.legend(fontsize=8)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def power_spectra(spectra: pd.DataFrame, band: tuple[float, float] | None = None, title: str = "") -> plt.Figure:
    """Radially averaged power spectra (``perception.spectra_table``): power against spatial
    frequency, log-log, and each reconstruction's power over the original's, with the band the
    detail-retention ratio averages over shaded.

    Used by notebook ``05_rate_perception_curves``.
    """
    from .perception import DETAIL_BAND

    band = band or DETAIL_BAND
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.6, 3.6))
    for i, (source, g) in enumerate(spectra.groupby("source", sort=False)):
        style = dict(color="k", lw=2.0) if source == "original" else dict(color=f"C{i - 1}", lw=1.4)
        a.plot(g["frequency"], g["power"], label=source, **style)
        if source != "original":
            b.plot(g["frequency"], g["ratio"], label=source, **style)
    b.axhline(1.0, color="k", lw=0.8, ls=":")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axvspan(*band, color="0.85", zorder=0)
        ax.set_xlabel("spatial frequency (cycles per pixel)")
        ax.grid(alpha=0.3, which="both")
    a.set_ylabel("power (luma, windowed)")
    a.set_title("radially averaged power spectrum", fontsize=10)
    b.set_ylabel("power / original's power")
    b.set_title("kept share of each frequency (grey: detail band)", fontsize=10)
    a.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def main_table_chart(table: pd.DataFrame, metric: str = "dists_bd_rate_pct") -> plt.Figure:
    """The paper's main comparison (``reference.load("main_table")``): each method's published
    decode latency at 1024x1024 against its BD-rate vs PerCo, labelled with its diffusion steps.
    Published numbers only. Used by notebook ``05_rate_perception_curves``.
    """
    from matplotlib.ticker import FormatStrFormatter

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    fastest = table["latency_1024px_s"].idxmin()
    for i, (idx, r) in enumerate(table.iterrows()):
        ax.scatter(r["latency_1024px_s"], r[metric], s=50, color=f"C{i}")
        left = idx == fastest  # its label goes left, clear of the other one-step codecs
        ax.annotate(f"{r['method']} ({r['diffusion_steps']} step{'s' if r['diffusion_steps'] > 1 else ''})",
                    (r["latency_1024px_s"], r[metric]), textcoords="offset points", xytext=(-6, -12) if left else (6, 4),
                    ha="right" if left else "left", fontsize=9)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("published latency at 1024x1024 (s, log scale)")
    ax.set_ylabel(f"{metric.split('_')[0].upper()} BD-rate vs PerCo (%)")
    ax.set_title("published main comparison (Shi et al., CVPR 2026); lower and left is better", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0.25, y=0.12)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ 06 alignment
def similarity_matrix(sim: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str = "",
                      ax: plt.Axes | None = None) -> plt.Figure:
    """A matrix of cosine similarities with values written in the cells (rows: images,
    columns: captions); the best column of each row is boxed.

    Used by notebook ``06_alignment_mechanisms``.
    """
    fig = ax.figure if ax is not None else plt.figure(figsize=(1.3 * len(cols) + 2.0, 1.0 * len(rows) + 1.2))
    ax = ax if ax is not None else fig.add_subplot(111)
    im = ax.imshow(sim, cmap="viridis")
    for i in range(sim.shape[0]):
        for j in range(sim.shape[1]):
            ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=8, color="w")
        best = int(np.argmax(sim[i]))
        ax.add_patch(plt.Rectangle((best - 0.5, i - 0.5), 1, 1, fill=False, color="red", lw=2))
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("caption")
    ax.set_ylabel("latent condition of image")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ 07 official
def timing_bars(table: pd.DataFrame, stages: Sequence[str] = ("entropy_s", "dit_s", "decoder_s"), title: str = "") -> plt.Figure:
    """Stacked bars of decode time per stage and image size (rows of ``teaching.decode_timing``)
    and, when the table has ``peak_mem_mb``, a second panel: peak memory against the image's
    megapixels.

    Used by notebook ``07_official_dit_ic``.
    """
    stages = [s for s in stages if s in table]
    memory = "peak_mem_mb" in table and table["peak_mem_mb"].notna().any()
    fig, axes = plt.subplots(1, 2 if memory else 1, figsize=(1.6 * len(table) + (7.0 if memory else 2.5), 3.4),
                             squeeze=False)
    ax = axes[0, 0]
    bottom = np.zeros(len(table))
    for i, s in enumerate(stages):
        ax.bar(table["size"], table[s], bottom=bottom, color=f"C{i}", label=s.removesuffix("_s"))
        bottom += table[s].to_numpy(float)
    ax.set_ylabel("seconds per decode (median)")
    ax.set_xlabel("image size (width x height)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    if memory:
        mp = table["megapixels"] if "megapixels" in table else table["size"].map(
            lambda s: np.prod([int(v) for v in s.split("x")]) / 1e6)
        mem = axes[0, 1]
        mem.plot(mp, table["peak_mem_mb"] / 1024, marker="o", color="C3")
        for x, y, label in zip(mp, table["peak_mem_mb"] / 1024, table["size"]):
            mem.annotate(label, (x, y), textcoords="offset points", xytext=(4, -12), fontsize=8)
        mem.set_xlabel("image size (megapixels)")
        mem.set_ylabel("peak memory (GB)")
        mem.set_xlim(left=0)
        mem.set_ylim(bottom=0)
        mem.grid(alpha=0.3)
        mem.set_title(f"peak memory during the decode ({table['device'].iloc[0]})", fontsize=10)
    fig.tight_layout()
    return fig
