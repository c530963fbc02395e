"""The recipe behind the shipped tiny checkpoints: every stage in order, then the export.

``ditic-lite train all`` (:func:`ditic_lite.train.train_all`) runs, in order and resumably (rerun
the same command after a stop): autoencoder -> latent cache (the encoder frozen for good) -> base
DiT -> DiT-IC codec (every rate point, latent space) -> MSE baseline (the same) -> DiT-IC's
pixel-space tune (its DiT and decoder LoRA; the codec frozen) -> export to
``ditic_lite/checkpoints`` with cards that hold the validation-set measurements
(:func:`ditic_lite.shipping.export`). The settings of each stage are in
:mod:`ditic_lite.train_config`.

This module adds the one-GPU recipe (``scripts/train_gpu.sh``): every stage continued from the
shipped checkpoints for a share of a time budget (:data:`GPU_PLAN`), then exported.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .shipping import export, hardware, seed_runs
from .train import make_cache, train
from .train_config import TrainArgs

# One time-boxed continuation run on one GPU: (stage, share of the minutes, settings). The shares
# follow the CPU recipe (scripts/train_shipped.sh); batches and crops are larger, ae and dit in bf16.
# "cache" is no training stage: it encodes the photos with the frozen encoder (a minute or so).
# The last "ae" is the decoder's fine-tune on what the codecs just trained decode to (512-px crops,
# half the batches from their y_hat, an MS-SSIM term; train_stages.AutoencoderStep), then DiT-IC's
# pixel-space tune of its DiT and decoder LoRA on the codec just trained (train_stages.PixelTuneStep).
GPU_PLAN: list[tuple[str, float, dict[str, Any]]] = [
    ("ae", 0.15, dict(batch_size=32, crop=256, lr=2e-4, bf16=True)),
    ("cache", 0.0, {}),
    ("dit", 0.08, dict(batch_size=64, bf16=True)),
    ("codec", 0.37, dict(batch_size=32, crop=24)),
    ("mse", 0.25, dict(batch_size=32, crop=24)),
    ("ae", 0.07, dict(batch_size=8, crop=512, lr=1e-4, bf16=True, decoded_share=0.5, ms_ssim_weight=0.05)),
    ("tune", 0.08, dict(batch_size=8, crop=512)),
]
# a toy run checks the recipe on a CPU in minutes: batch 1, the smallest crops each stage accepts
# (a decoded latent needs an image side of 256: the codec's latent multiple of 8)
TOY_SETTINGS = {"ae": dict(batch_size=1, crop=64), "latent": dict(batch_size=1, crop=8),
                "decoded": dict(batch_size=1, crop=256)}


def run_plan(plan: list[tuple[str, float, dict[str, Any]]], runs: Path, data: Path, minutes: float,
             step_cap: int | None = None, toy: bool = False) -> list[dict[str, Any]]:
    """Continue every stage of ``plan`` from the shipped checkpoints in one process.

    Each stage gets ``share * minutes`` of wall time (``step_cap`` more steps at most, for toy
    runs); ``toy`` replaces batches and crops by :data:`TOY_SETTINGS` (tests).
    """
    seed_runs(runs)
    bundled = data / "captions.safetensors"  # caption embeddings computed elsewhere (scripts/gpu_bundle.py)
    if bundled.exists() and not (runs / "captions.safetensors").exists():
        (runs / "captions.safetensors").write_bytes(bundled.read_bytes())
    summaries = []
    for stage, share, settings in plan:
        if stage == "cache":
            make_cache(runs, data)
            continue
        if toy:
            pixels_of_files = stage == "tune" or settings.get("decoded_share")  # coded crops: >= 256 px
            kind = "decoded" if pixels_of_files else "ae" if stage == "ae" else "latent"
            settings = {**settings, **TOY_SETTINGS[kind]}
        args = TrainArgs.for_stage(stage, data=data, runs=runs, max_minutes=share * minutes, **settings)
        progress = args.run_dir / "progress.json"
        done = json.loads(progress.read_text())["step"] if progress.exists() else 0
        args.steps = done + step_cap if step_cap is not None else 10**9
        summaries.append(train(args))
    return summaries


def train_gpu(out: Path, data: Path, minutes: float = 5.0, step_cap: int | None = None,
              toy: bool = False) -> dict[str, Any]:
    """The GPU recipe (``scripts/train_gpu.sh``): continue, export with cards, write a summary."""
    tic = time.time()
    runs = out / "runs"
    summaries = run_plan(GPU_PLAN, runs, data, minutes, step_cap, toy)
    train_minutes = (time.time() - tic) / 60
    cards = export(runs, out=out / "checkpoints", data=data)
    summary = {"hardware": hardware(), "plan_minutes": minutes, "train_minutes": train_minutes,
               "total_minutes": (time.time() - tic) / 60,
               "stages": [{k: s[k] for k in ("stage", "steps", "minutes_this_run", "final_losses")}
                          for s in summaries],
               "validation": [{"model": c["model"], "rate": c["rate"], **c.get("validation", {})} for c in cards]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":  # python -m ditic_lite.recipe gpu OUT DATA [--minutes M]  (scripts/train_gpu.sh)
    parser = argparse.ArgumentParser(description="the tiny-tier recipe on one GPU, from the shipped checkpoints")
    parser.add_argument("plan", choices=["gpu"])
    parser.add_argument("out", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall time, split over the stages")
    parser.add_argument("--step-cap", type=int, default=None, help="at most this many steps per stage (toy runs)")
    parser.add_argument("--toy", action="store_true", help="batch 1, small crops: check the recipe on a CPU")
    args = parser.parse_args()
    result = train_gpu(args.out, args.data, args.minutes, args.step_cap, args.toy)
    print(json.dumps({k: result[k] for k in ("hardware", "train_minutes", "total_minutes", "validation")}, indent=1))
