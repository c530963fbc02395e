"""Checking the official release on any machine (notebook ``07_official_dit_ic``): which published
curve a checkpoint must be compared with, which decode sizes fit the device, and the measured
decode times next to the published latencies.

* :func:`release_rank`: the hub's ``q1``..``q4_merge_ema.pt`` files are the release's updated
  LoRA rank 64/128 checkpoints, so they are compared with that curve, not the paper's rank 32/64
  curve (``data/reference/README.md``).
* :func:`published_point`: the point of a curve a run is compared with, matched by rate.
* :func:`timing_sizes`: the decode sizes to time; on a CPU the official model is capped to
  768x512 (about half a minute per decode on 2 cores, a few GB of memory).
* :func:`latency_table`: measured decode seconds beside the paper's published latencies (and,
  optionally, a U-Net f8 diffusion decoder timed by ``ditic_lite.bench``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import reference

RELEASE_FILE = re.compile(r"q[1-9]_merge_ema\.pt")
CPU_OFFICIAL_SIZES = ((512, 512), (768, 512))


def release_rank(checkpoint: str | Path | None) -> str | None:
    """The published model (``reference.UPDATED_MODEL`` or ``PAPER_MODEL``) a checkpoint file
    belongs to, or ``None`` when its name does not say. The hub's ``qN_merge_ema.pt`` files are
    the release's updated rank 64/128 checkpoints. Explained in notebook ``07_official_dit_ic``."""
    if checkpoint is None:
        return None
    return reference.UPDATED_MODEL if RELEASE_FILE.fullmatch(Path(str(checkpoint)).name) else None


def published_point(mean_bpp: float, model: str | None, dataset: str = "kodak") -> pd.Series | None:
    """The published point of ``model``'s curve on ``dataset`` nearest (in log rate) to the
    measured mean bpp: the rate point this checkpoint is, or ``None`` without a model.
    Explained in notebook ``07_official_dit_ic``."""
    if not model or not np.isfinite(mean_bpp) or mean_bpp <= 0:
        return None
    curve = reference.curve(dataset, model)
    return curve.iloc[int(np.argmin(np.abs(np.log(curve["bpp"]) - np.log(mean_bpp))))]


def timing_sizes(tier: str, device: str, sizes: Sequence[Sequence[int]],
                 cpu_sizes: Sequence[Sequence[int]] | None = None) -> list[tuple[int, int]]:
    """The decode sizes to time: ``sizes`` as given, except the official model on a CPU, which
    is timed at ``cpu_sizes`` (default :data:`CPU_OFFICIAL_SIZES`; a 2048x2048 decode would take
    many minutes there). Explained in notebook ``07_official_dit_ic``."""
    if tier == "official" and not str(device).startswith("cuda"):
        return [tuple(int(v) for v in s) for s in (cpu_sizes or CPU_OFFICIAL_SIZES)]
    return [tuple(int(v) for v in s) for s in sizes]


def unet_reference(sizes: Sequence[tuple[int, int]], device: str = "cpu", steps: int = 20, dtype: str = "fp32",
                   repeats: int = 2) -> pd.DataFrame:
    """A U-Net f8 diffusion decoder's cost: one step of an SD-1.5-sized U-Net (random weights,
    ``ditic_lite.bench.bench_unet``) times ``steps`` (PerCo decodes with 20), per size. Columns
    ``size``, ``seconds``, ``step_s``. Heavy on a CPU (seconds per step at 512x512).
    Explained in notebook ``07_official_dit_ic``."""
    from .bench import bench_unet

    rows = bench_unet(list(sizes), dtypes=(dtype,), device=device, repeats=repeats, warmup=1)
    return pd.DataFrame([{"size": r.size, "step_s": r.median_s, "seconds": steps * r.median_s, "steps": steps}
                         for r in rows if not r.note])


def latency_table(timing: pd.DataFrame, tier: str, unet: pd.DataFrame | None = None) -> pd.DataFrame:
    """Measured decode seconds (``teaching.decode_timing``) beside the published latencies of the
    paper (``main_table``: every method at 1024x1024; ``claims``: 4096x4096) and, when given, a
    U-Net f8 decoder timed here. Columns ``source`` (measured here / published), ``method``,
    ``size``, ``seconds``, ``where``. Published numbers come from unrecorded hardware: read them
    side by side, not as a ratio. Explained in notebook ``07_official_dit_ic``."""
    rows = [{"source": "measured here", "method": f"DiT-IC {tier} (one step, whole decode)", "size": r["size"],
             "seconds": r["decode_s"], "where": r["device"]} for _, r in timing.iterrows()]
    if unet is not None:
        device = timing["device"].iloc[0] if len(timing) else ""
        rows += [{"source": "measured here", "method": f"SD-1.5 U-Net f8 x {int(r['steps'])} steps (random weights)",
                  "size": r["size"], "seconds": r["seconds"], "where": device} for _, r in unet.iterrows()]
    main = reference.load("main_table")
    for _, r in main.iterrows():
        steps = f"{r['diffusion_steps']} step{'s' if r['diffusion_steps'] > 1 else ''}"
        rows.append({"source": "published", "method": f"{r['method']} ({steps})", "size": "1024x1024",
                     "seconds": r["latency_1024px_s"], "where": "paper (hardware not recorded)"})
    claims = reference.load("claims")
    for _, r in claims[(claims["claim"] == "latency_4096") & (claims["unit"] == "s")].iterrows():
        rows.append({"source": "published", "method": f"{r['method']} (diffusion only)", "size": "4096x4096",
                     "seconds": r["value"], "where": "paper (hardware not recorded)"})
    return pd.DataFrame(rows)
