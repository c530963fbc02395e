"""Notebook ``07_official_dit_ic``: what the official tier can do here, and the same cells on the
tiny model when it cannot (real bytes, metrics, decode timing by image size).

:func:`cached_official_checkpoints`, :func:`official_status`, :func:`official_plan`,
:func:`synthetic_photo`, :func:`decode_timing`, :func:`reproduce_points`, :func:`official_or_tiny`,
:func:`evaluation_images`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .. import metrics as M
from ..codec import Codec
from ..images import ImageLike, load_image
from ..notebook import online
from .common import as_pil
from .rate_curves import default_metrics


OFFICIAL_FILES_HINT = "*_merge_ema.pt (quality points q1..q4)"


def cached_official_checkpoints() -> list[Path]:
    """``*_merge_ema.pt`` files of the official release already in the Hugging Face cache
    (``$DITIC_OFFICIAL_CHECKPOINT`` adds a local file). Never downloads. Explained in notebook
    ``07_official_dit_ic``."""
    found = []
    env = os.environ.get("DITIC_OFFICIAL_CHECKPOINT")
    if env and Path(env).is_file():
        found.append(Path(env))
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
        repo = Path(HF_HUB_CACHE) / "models--JunqiShi--DiT-IC"
        found += sorted(repo.glob("snapshots/*/*_merge_ema.pt"))
    except ImportError:
        pass
    return found


def official_status(check_network: bool = True) -> dict[str, Any]:
    """What the official tier can do here: ``gpu``, ``hub_reachable`` (:func:`ditic_lite.notebook.online`:
    a 3 s socket probe, skipped with ``HF_HUB_OFFLINE=1``), ``cached`` checkpoints and ``can_run``:
    a checkpoint is cached (any machine: the official model also runs on a CPU, slowly), or a GPU
    and the hub are there to download one (about 4 GB, not worth it for a CPU run). Never
    downloads. Explained in notebook ``07_official_dit_ic``.
    """
    gpu = torch.cuda.is_available()
    cached = cached_official_checkpoints()
    reachable = online("huggingface.co") if check_network else False
    return {"gpu": gpu, "gpu_name": torch.cuda.get_device_name(0) if gpu else None,
            "hub_reachable": reachable, "cached": [str(p) for p in cached],
            "can_run": bool(cached) or (gpu and reachable)}


def official_plan(status: dict[str, Any]) -> str:
    """Plain words: what notebook ``07_official_dit_ic`` does with this status (and what it would
    do on a GPU with internet)."""
    from ..official import HUB_REPO

    lines = []
    if status["can_run"]:
        src = status["cached"][0] if status["cached"] else f"the hub repo {HUB_REPO} ({OFFICIAL_FILES_HINT})"
        where = status["gpu_name"] or "the CPU (fp32; about a minute per Kodak image, decode sizes capped)"
        lines.append(f"Official tier: loading the released DiT-IC checkpoint from {src} on {where}.")
        if len(status["cached"]) > 1:
            lines.append(f"Cached checkpoints: {', '.join(Path(c).name for c in status['cached'])} "
                         "(choose one with the checkpoint parameter).")
    else:
        why = []
        if not status["cached"]:
            why.append("no cached checkpoint")
        if not status["gpu"]:
            why.append("no CUDA GPU to justify a 4 GB download (a cached checkpoint also runs on a CPU)")
        elif not status["hub_reachable"]:
            why.append("the hub is not reachable (offline)")
        lines.append("Official tier NOT run here: " + "; ".join(why) + ".")
        lines.append(f"On a GPU with internet (Colab) this notebook would download one file {OFFICIAL_FILES_HINT} "
                     f"from https://huggingface.co/{HUB_REPO} (about 4 GB), load it with "
                     "dl.load('official', checkpoint=...), code a few Kodak images and time 1024x1024 "
                     "and 2048x2048 decodes in bfloat16 (float16 on GPUs without bfloat16, e.g. a T4). "
                     "With a checkpoint already on disk (DITIC_OFFICIAL_CHECKPOINT=path or the Hugging Face "
                     "cache) it also runs here on the CPU, with smaller decode sizes.")
        lines.append("Below, the same cells run on the kit's tiny model instead; nothing is downloaded.")
    return "\n".join(lines)


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


def reproduce_points(codec: Codec, images: Sequence[ImageLike | str | Path], metrics: Sequence[str] | None = None,
                     steps: int = 1) -> pd.DataFrame:
    """Code each image with ``codec`` (any tier): real bytes, bpp and metrics per image, plus the
    mean as a last row. Explained in notebook ``07_official_dit_ic``.
    """
    metrics = list(metrics) if metrics is not None else default_metrics()
    rows = []
    for img in images:
        name = Path(img).stem if isinstance(img, (str, Path)) else f"image {len(rows)}"
        pil = load_image(img) if isinstance(img, (str, Path)) else as_pil(img)
        data = codec.compress(pil)
        rec = codec.decompress(data, steps=steps)
        rows.append({"image": name, "model": codec.name, "rate": codec.rate, "bytes": len(data),
                     "bpp": M.bits_per_pixel(len(data), pil.height, pil.width), **M.scores(pil, rec, metrics)})
    df = pd.DataFrame(rows)
    mean = {"image": "mean", "model": codec.name, "rate": codec.rate, "bytes": df["bytes"].mean(),
            **{c: df[c].mean() for c in ("bpp", *metrics)}}
    return pd.concat([df, pd.DataFrame([mean])], ignore_index=True)


def official_or_tiny(status: dict[str, Any], device: str = "cpu", checkpoint: str | Path | None = None,
                     dtype: str = "bf16") -> tuple[Any, str]:
    """The official codec when ``status["can_run"]``, else the tiny codec. Returns ``(codec, tier)``
    with tier ``"official"`` or ``"tiny"``. Never downloads when it cannot run.

    ``checkpoint``: a local file, a file name (``"q2_merge_ema.pt"``: the cached copy, else that
    file of the hub repo), ``owner/repo/file``, or ``None``/``""`` (the first cached file, else the
    first ``*_merge_ema.pt`` of the hub repo, downloaded once).
    Explained in notebook ``07_official_dit_ic``.
    """
    from ..zoo import load

    if not status.get("can_run"):
        return load("tiny", rate=0, device=device), "tiny"
    from ..official import HUB_REPO

    checkpoint = checkpoint or None
    if checkpoint is not None and "/" not in str(checkpoint) and not Path(checkpoint).is_file():
        named = [c for c in status["cached"] if Path(c).name == str(checkpoint)]
        checkpoint = named[0] if named else f"{HUB_REPO}/{checkpoint}"
    if checkpoint is None and status["cached"]:
        checkpoint = status["cached"][0]
    if checkpoint is None:
        from huggingface_hub import list_repo_files
        files = sorted(f for f in list_repo_files(HUB_REPO) if f.endswith("_merge_ema.pt"))
        if not files:
            raise FileNotFoundError(f"no *_merge_ema.pt file in the hub repo {HUB_REPO}")
        checkpoint = f"{HUB_REPO}/{files[0]}"
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    return load("official", checkpoint=checkpoint, device=device, dtype=torch_dtype), "official"


def evaluation_images(tier: str, count: int) -> list[Path]:
    """The first ``count`` Kodak images for the official tier (downloaded with checksums by
    ``ditic_lite.data``), the sample photos for the tiny tier (offline).
    Explained in notebook ``07_official_dit_ic``.
    """
    if tier == "official":
        from ..data import list_images, resolve
        return list_images(resolve("kodak"))[:count]
    from ..notebook import sample_paths
    return sample_paths()[:count]
