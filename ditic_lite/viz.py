"""Pictures of images and latents: side-by-side comparisons, zoomed crops, image grids, latent
heatmaps, the similarity matrix and the pipeline diagram; :func:`save` writes any figure.

Charts of numbers (rate-distortion curves, histograms, scatter, line and bar charts) are in
``plots.py``; the ones the notebooks call as ``dl.viz.<name>`` stay importable from here.
Used by the ``demo`` command and the notebooks (each function names its notebook). Every
function returns a matplotlib ``Figure``; :func:`save` writes it into ``figures/`` small enough
for the README gallery, in full colour (a photo is never reduced to a 256-colour palette).
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

# charts the notebooks call as dl.viz.<name>; they are drawn in plots.py
from .plots import (histograms, main_table_chart, power_spectra, quant_step_chart,  # noqa: F401
                    rd_with_reference, scatter, steps_chart, timing_bars)


FIGURE_WIDTH = 11.0
"""Widest picture figure, in inches: about the README's width at the gallery's 90 dpi."""


def side_by_side(
    images: Sequence[Image.Image],
    titles: Sequence[str],
    suptitle: str = "",
    path: str | Path | None = None,
    crop: tuple[int, int, int] | None = None,
    ncols: int = 5,
) -> plt.Figure:
    """Images in rows of at most ``ncols`` (and, with ``crop=(x, y, size)``, a zoomed crop of
    each below its image, the crop's square drawn on the full image). The figure is at most
    :data:`FIGURE_WIDTH` inches wide, so its labels stay readable at README width: more
    columns make smaller panels, not smaller text.

    Used by notebooks ``01_quickstart`` to ``06_alignment_mechanisms``.
    """
    n = len(images)
    ncols = max(1, min(ncols, n))
    groups = -(-n // ncols)
    per = 2 if crop else 1
    w, h = images[0].size
    panel = min(3.6, FIGURE_WIDTH / ncols)
    title_lines = max(str(t).count("\n") + 1 for t in titles) if titles else 1
    row_height = panel * h / w + 0.18 * title_lines + 0.15
    fig, axes = plt.subplots(groups * per, ncols, figsize=(panel * ncols, groups * per * row_height), squeeze=False)
    for i, (im, title) in enumerate(zip(images, titles)):
        row, col = per * (i // ncols), i % ncols
        axes[row, col].imshow(im)
        axes[row, col].set_title(title, fontsize=9)
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
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(figure_bytes(fig, path.suffix.lower().lstrip(".") or "png", dpi=110))
    return fig


def zoom_rows(original: Image.Image,
              rows: Mapping[str, Sequence[tuple[str, Image.Image]] | Mapping[str, Image.Image]],
              box: tuple[int, int, int], title: str = "", caption: str = "",
              beside: Sequence[tuple[str, Image.Image]] = (), col_width: float = 1.75) -> plt.Figure:
    """Magnified crops of one square of a photo. Top: the original with the square drawn on it,
    the square magnified, then ``beside`` (``(panel title, image)``, e.g. a classical codec in
    the same bytes); below, one row of crops per entry of ``rows`` (``label -> [(panel title,
    image), ...]`` or ``{panel title: image}``, e.g. one decoder at several rates; a second
    decoder is one more row); then ``caption`` (what to look for). Crops are drawn pixel for
    pixel (no smoothing), so the artefacts shown are the codec's. Used by ``ditic-lite demo``
    and notebook ``04_bitrate_slider`` (one photo at every rate point).
    """
    x, y, s = box
    rows = {label: list(panels.items()) if isinstance(panels, Mapping) else list(panels)
            for label, panels in rows.items()}
    widest = max([len(panels) for panels in rows.values()] + [0])
    span = max(2, (widest + 1) // 2)
    ncols = max(widest, span + 1 + len(beside))
    top = span * col_width * original.height / original.width + 0.45
    row_height = col_width + 0.6  # the crop and its three-line title
    lines = textwrap.wrap(caption, width=int(ncols * col_width * 15)) if caption else []
    text_height = 0.17 * len(lines) + 0.1
    fig = plt.figure(figsize=(ncols * col_width, top + len(rows) * row_height + text_height + 0.35))
    grid = fig.add_gridspec(1 + len(rows), ncols, height_ratios=[top] + [row_height] * len(rows))

    def crop_panel(cell, panel_title: str, image: Image.Image) -> plt.Axes:
        ax = fig.add_subplot(cell)
        ax.imshow(image.crop((x, y, x + s, y + s)), interpolation="nearest")
        ax.set_title(panel_title, fontsize=7.5)
        return ax

    full = fig.add_subplot(grid[0, :span])
    full.imshow(original)
    full.add_patch(plt.Rectangle((x, y), s, s, fill=False, color="yellow", lw=1.5))
    full.set_title(f"original, {original.width}x{original.height} px", fontsize=9)
    crop_panel(grid[0, span], f"original\n{s}x{s} px square", original)
    for c, (panel_title, image) in enumerate(beside):
        crop_panel(grid[0, span + 1 + c], panel_title, image)
    for r, (label, panels) in enumerate(rows.items()):
        for c, (panel_title, image) in enumerate(panels):
            ax = crop_panel(grid[1 + r, c], panel_title, image)
            if c == 0:
                ax.text(-0.06, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center", fontsize=8.5)
    for ax in fig.axes:
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, text_height / fig.get_figheight(), 1, 1))
    if lines:
        fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=8.5)
    return fig


def rate_strip(original: Image.Image, panels: Mapping[str, Image.Image], box: tuple[int, int, int],
               title: str = "", panel_width: float = 2.0) -> plt.Figure:
    """One photo at several rates, compact enough to read as a README thumbnail: one row of
    magnified crops of the square ``box = (x, y, size)``, the original's first, then one per entry
    of ``panels`` (label, e.g. ``"rate 0\\n0.008 bpp, 29.0 dB"`` -> reconstruction), drawn pixel for
    pixel. Use at most about six panels. Used by notebook ``04_bitrate_slider``.
    """
    x, y, s = box
    items = [(f"original\n({s}x{s} px crop)", original), *panels.items()]
    lines = max(str(label).count("\n") + 1 for label, _ in items)
    fig, axes = plt.subplots(1, len(items), figsize=(panel_width * len(items), panel_width + 0.22 * lines + 0.5),
                             squeeze=False)
    for ax, (label, image) in zip(axes[0], items):
        ax.imshow(image.crop((x, y, x + s, y + s)), interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
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
LOSSY_QUALITY = 92
"""Quality of a figure saved as ``.jpg`` / ``.webp``: its own artefacts stay far below a codec's at 0.1 bpp."""


def figure_bytes(fig: plt.Figure, fmt: str = "png", dpi: int = 90) -> bytes:
    """``fig`` encoded in full colour as ``png`` (lossless, RGB), ``jpg`` or ``webp``
    (:data:`LOSSY_QUALITY`); never a palette, which would repaint every photo in 256 colours.
    Behind :func:`save`, used by every notebook from ``01_quickstart`` on."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    rgb = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    if fmt == "png":
        rgb.save(out, format="png", optimize=True)
    elif fmt in ("jpg", "jpeg"):
        rgb.save(out, format="jpeg", quality=LOSSY_QUALITY, subsampling=0)
    elif fmt == "webp":
        rgb.save(out, format="webp", quality=LOSSY_QUALITY, method=6)
    else:
        raise ValueError(f"figures are saved as .png, .jpg or .webp, got .{fmt}")
    return out.getvalue()


def save(fig: plt.Figure, name: str, dpi: int = 90, max_bytes: int = GALLERY_MAX_BYTES) -> Path:
    """Save ``fig`` as ``figures/<name>`` (see :func:`ditic_lite.notebook.figures_dir`) in full
    colour (:func:`figure_bytes`: ``.png`` lossless, ``.jpg`` / ``.webp`` high quality), at a lower
    resolution where it is above ``max_bytes`` (README gallery figures stay small), and print where
    it went; returns the path. Photos are never palette-quantised. Used by every notebook, first in
    ``01_quickstart``."""
    from .notebook import figure_path

    path = figure_path(name)
    fmt = path.suffix.lower().lstrip(".")
    for scale in (1.0, 0.85, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        used = max(20, int(dpi * scale))
        data = figure_bytes(fig, fmt, used)
        if len(data) <= max_bytes:
            break
    path.write_bytes(data)
    smaller = "" if used == dpi else f", at {used} dpi to stay under {max_bytes / 1000:.0f} kB"
    print(f"figure saved: {path.parent.name}/{path.name} ({len(data) / 1000:.0f} kB{smaller})")
    return path


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
