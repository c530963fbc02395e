"""Charts of numbers: rate-distortion curves (with the paper's published points) and the line,
bar, scatter and histogram charts of the notebooks.

Pictures of images and latents (grids, crops, heatmaps) are in ``viz.py``. Each function stands
alone (takes data, returns a matplotlib ``Figure`` or draws on given axes), so notebooks can mix
them; each names the notebook that explains it. ``viz.save`` writes any of them into ``figures/``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import ScalarFormatter
import numpy as np
import pandas as pd

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


# ------------------------------------------------------------------------------------ 02 variance
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


# ------------------------------------------------------------------------------------ 04 slider
def quant_step_chart(table: pd.DataFrame, metrics: Sequence[str] = ("psnr", "ms_ssim"), title: str = "") -> plt.Figure:
    """Bits per pixel vs quality for each model and rate point as its quantisation step varies
    (a line through the steps; the trained step 1 is the large dot), from a sweep table with
    columns ``model, rate, quant_step, bpp`` and the metrics (averaged over images here).

    Used by notebook ``04_bitrate_slider``.
    """
    means = table.groupby(["model", "rate", "quant_step"], as_index=False)[["bpp", *metrics]].mean()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, ((name, rate), g) in enumerate(means.groupby(["model", "rate"], sort=True)):
            g = g.sort_values("quant_step", ascending=False)  # coarse (few bits) to fine
            color = f"C{i % 10}"
            ax.plot(g["bpp"], g[metric], marker=".", color=color, label=f"{name} rate {rate}",
                    linestyle="-" if name == means["model"].iloc[0] else "--")
            trained = g[g["quant_step"] == 1.0]
            ax.plot(trained["bpp"], trained[metric], marker="o", markersize=7, linestyle="none", color=color)
        _log_bpp_axis(ax)
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or "quantisation step of y, coarse (left) to fine (right); large dot = step 1 (as trained)",
                 fontsize=9)
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


def _measured_panel(ax: plt.Axes, pts: pd.DataFrame, metric: str) -> None:
    """One metric of our measurements (mean rate points, one curve per codec) on ``ax``."""
    keys = ["codec", "steps"] if "steps" in pts else ["codec"]
    for key, g in pts.groupby(keys, sort=False):
        codec = key[0] if isinstance(key, tuple) else key
        ax.plot(g["bpp"], g[metric], marker="o", label=str(codec))
    if metric == "detail":
        ax.axhline(1.0, color="k", lw=0.8, ls=":", label="original")
        ax.set_yscale("log")
    ax.set_title(f"measured here: {METRIC_LABELS.get(metric, metric)}", fontsize=9)
    _log_bpp_axis(ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3, which="both")


def _published_panel(ax: plt.Axes, dataset: str, metric: str, model: str = reference.PAPER_MODEL) -> None:
    """The published DiT-IC curve of ``dataset`` for ``metric`` on ``ax`` (or a note that there is none)."""
    published = reference.curve(dataset, model) if dataset else pd.DataFrame()
    if metric not in published or published[metric].isna().all():
        ax.axis("off")
        ax.text(0.5, 0.5, f"no published {metric} curve", ha="center", va="center", fontsize=9,
                transform=ax.transAxes, color="0.4")
        return
    add_reference_curves(ax, dataset, metric, (model,))
    ax.set_title(f"published DiT-IC on {reference.dataset_name(dataset)} (Shi et al., CVPR 2026)", fontsize=8)
    _log_bpp_axis(ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def rd_with_reference(results: pd.DataFrame, metrics: Sequence[str] = ("psnr", "ms_ssim"),
                      dataset: str = "kodak", title: str = "") -> plt.Figure:
    """Our measurements (one curve per codec, log bpp axis) and, in a separate panel below each
    metric the paper published, the published DiT-IC curve on ``dataset``: the two are never drawn
    on the same axes. The ``detail`` ratio (best at 1, marked) has no published counterpart.
    Notebook 05 draws the two as separate figures instead (:func:`measured_curves`,
    :func:`published_curves`), so that no one reads one height against the other.
    """
    pts = rate_points(results)
    metrics = [m for m in metrics if m in pts and pts[m].notna().any()]
    fig, axes = plt.subplots(2, len(metrics), figsize=(4.4 * len(metrics), 6.8), squeeze=False)
    for j, metric in enumerate(metrics):
        _measured_panel(axes[0, j], pts, metric)
        _published_panel(axes[1, j], dataset, metric)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def measured_curves(results: pd.DataFrame, metrics: Sequence[str] = ("psnr", "ms_ssim"), title: str = "") -> plt.Figure:
    """Our measurements alone: one panel per metric, one curve per codec (mean rate points of a
    per-image table), log bpp axis; ``detail`` on a log axis with the original's 1 marked.
    Used by notebook ``05_rate_perception_curves``."""
    pts = rate_points(results)
    metrics = [m for m in metrics if m in pts and pts[m].notna().any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        _measured_panel(ax, pts, metric)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def published_curves(dataset: str = "kodak", metrics: Sequence[str] = ("psnr", "ms_ssim"),
                     model: str = reference.PAPER_MODEL, title: str = "") -> plt.Figure:
    """The paper's published DiT-IC curve on ``dataset`` alone (reference data), one panel per
    metric it published. Used by notebook ``05_rate_perception_curves``, apart from the measured
    curves: different photos and a different model size."""
    published = reference.curve(dataset, model)
    metrics = [m for m in metrics if m in published and published[m].notna().any()]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(4.4 * max(1, len(metrics)), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics or ["psnr"]):
        _published_panel(ax, dataset, metric, model)
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
    from .spectrum import DETAIL_BAND

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


def tradeoff_chart(summary: pd.DataFrame, title: str = "") -> plt.Figure:
    """The perception-distortion trade-off of the realism decoder: PSNR (fidelity, right is
    better) against the Laplacian detail ratio (realism, up is more detail, 1 = the original's),
    one numbered point per decoder and rate point (the shipped head starred, a yardstick without
    training such as the unsharp mask a cross; the key beside the chart), from
    ``evaluate.tradeoff_summary`` (or ``evaluate.tradeoff(codec)``)."""
    fig, ax = plt.subplots(figsize=(8.4, 4.2))
    decoders = list(dict.fromkeys(summary.sort_values("psnr", ascending=False)["decoder"]))
    number = {d: i + 1 for i, d in enumerate(decoders)}
    for (rate, group), colour in zip(summary.groupby("rate"), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        shipped = group["decoder"].str.contains("shipped")
        untrained = group["decoder"].str.contains("no training")
        trained = ~shipped & ~untrained
        ax.scatter(group.loc[trained, "psnr"], group.loc[trained, "detail_ratio"], color=colour,
                   label=f"rate point {rate}")
        ax.scatter(group.loc[shipped, "psnr"], group.loc[shipped, "detail_ratio"], color=colour, marker="*", s=160)
        ax.scatter(group.loc[untrained, "psnr"], group.loc[untrained, "detail_ratio"], color=colour, marker="x", s=60)
        for _, row in group.iterrows():
            ax.annotate(str(number[row["decoder"]]), (row["psnr"], row["detail_ratio"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    ax.axhline(1.0, color="0.6", lw=0.8, ls="--")
    ax.text(ax.get_xlim()[0], 1.0, " the original's detail", va="bottom", fontsize=8, color="0.4")
    ax.set_xlabel("PSNR (dB): pixel fidelity")
    ax.set_ylabel("detail ratio (Laplacian energy / the original's)")
    ax.set_ylim(0, max(1.1, float(summary["detail_ratio"].max()) * 1.15))
    ax.legend(fontsize=8, title="star: the shipped head\ncross: no training", title_fontsize=8, loc="upper right")
    ax.set_title(title or "same bytes, other decoders: detail against PSNR", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.62, 1))
    key = "\n".join(f"{number[d]}: {str(d).removeprefix('realism, ')}" for d in decoders)
    fig.text(0.63, 0.5, key, va="center", fontsize=8)
    return fig
