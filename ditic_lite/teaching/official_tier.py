"""Notebook ``07_official_dit_ic``: real bytes, metrics and decode timing by image size, on either
tier (which tier runs, and why, is :mod:`.tier`, shared with notebooks 02-06).

:func:`cached_official_checkpoints`, :func:`synthetic_photo`, :func:`decode_timing`,
:func:`reproduce_points`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .. import metrics as M
from ..codec import Codec
from ..images import ImageLike, load_image
from .common import as_pil
from .rate_curves import default_metrics


def cached_official_checkpoints() -> list[Path]:
    """``*_merge_ema.pt`` files of the official release already in the Hugging Face cache.
    Never downloads. Used by :mod:`.tier` (notebooks 02-07, e.g. ``07_official_dit_ic``)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return []
    repo = Path(HF_HUB_CACHE) / "models--JunqiShi--DiT-IC"
    return sorted(repo.glob("snapshots/*/*_merge_ema.pt"))


def synthetic_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A deterministic photo-like image of any size (for timing large decodes offline).
    Used by notebook ``07_official_dit_ic``."""
    from ..bench import synthetic_image
    return Image.fromarray(synthetic_image(width, height, seed))


def decode_timing(codec: Codec, sizes: Sequence[tuple[int, int]], steps: int = 1, repeats: int = 3,
                  warmup: int = 1) -> pd.DataFrame:
    """Decode latency per image size: ``size``, ``megapixels``, ``bytes``, ``bpp``, ``decode_s``
    and per-stage seconds (entropy / dit / decoder), each the median over ``repeats`` timed decodes
    after ``warmup`` untimed ones (``ditic_lite.bench.measure``; on a GPU every stage ends with a
    CUDA synchronisation), ``repeats`` and ``peak_mem_mb`` (GPU: peak allocated; CPU: peak
    resident memory of the process). Explained in notebook ``07_official_dit_ic``.
    """
    from ..bench import measure

    device = str(codec.device)
    rows = []
    for w, h in sizes:
        img = synthetic_photo(w, h)
        data = codec.compress(img)
        stages: list[dict[str, float]] = []

        def decode(data: bytes = data) -> Any:
            out = codec.decompress(data, steps=steps, return_intermediates=True)
            stages.append(out[1]["timings"])
            return out

        m = measure(decode, device, repeats, warmup)
        timed = stages[warmup:]
        rows.append({"model": codec.name, "size": f"{w}x{h}", "megapixels": w * h / 1e6, "device": device,
                     "bytes": len(data), "bpp": M.bits_per_pixel(len(data), h, w), "decode_s": m["median_s"],
                     **{f"{k}_s": float(np.median([t[k] for t in timed])) for k in timed[0]},
                     "repeats": repeats, "peak_mem_mb": m["peak_mem_mb"]})
    return pd.DataFrame(rows)


def reproduce_points(codec: Codec, images: Sequence[ImageLike | str | Path] | Mapping[str, ImageLike],
                     metrics: Sequence[str] | None = None, steps: int = 1) -> pd.DataFrame:
    """Code each image with ``codec`` (any tier): real bytes, bpp and metrics per image, plus the
    mean as a last row. ``images``: files (named by stem), images, or a ``{name: image}`` mapping.
    Explained in notebook ``07_official_dit_ic``.
    """
    metrics = list(metrics) if metrics is not None else default_metrics()
    named = images.items() if isinstance(images, Mapping) else ((None, img) for img in images)
    rows = []
    for given, img in named:
        name = given or (Path(img).stem if isinstance(img, (str, Path)) else f"image {len(rows)}")
        pil = load_image(img) if isinstance(img, (str, Path)) else as_pil(img)
        data = codec.compress(pil)
        rec = codec.decompress(data, steps=steps)
        rows.append({"image": name, "model": codec.name, "rate": codec.rate, "bytes": len(data),
                     "bpp": M.bits_per_pixel(len(data), pil.height, pil.width), **M.scores(pil, rec, metrics)})
    df = pd.DataFrame(rows)
    mean = {"image": "mean", "model": codec.name, "rate": codec.rate, "bytes": df["bytes"].mean(),
            **{c: df[c].mean() for c in ("bpp", *metrics)}}
    return pd.concat([df, pd.DataFrame([mean])], ignore_index=True)
