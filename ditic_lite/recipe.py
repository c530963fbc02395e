"""The recipe behind the shipped tiny checkpoints: every stage in order, then the export.

``ditic-lite train all`` (:func:`ditic_lite.train.train_all`) runs, in order and resumably (rerun
the same command after a stop): autoencoder -> base DiT -> codec warm-up in latent space -> DiT-IC
stage 1 (lambda_base) -> stage 2 per rate point -> MSE baseline per rate point -> export to
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
from .train import train
from .train_config import RATE_LAMBDAS, TrainArgs

# One time-boxed continuation run on one GPU: (stage, share of the minutes, settings). The shares
# follow the CPU recipe (scripts/train_shipped.sh); batches and crops are larger, ae and dit in bf16.
GPU_PLAN: list[tuple[str, float, dict[str, Any]]] = [
    ("ae", 0.30, dict(batch_size=32, crop=256, lr=2e-4, bf16=True)),
    ("dit", 0.08, dict(batch_size=64, bf16=True)),
    ("warmup", 0.14, dict(batch_size=32)),
    ("stage1", 0.20, dict(batch_size=16)),
    *[("stage2", 0.04, dict(batch_size=16, rate_id=i, lmbda=lam)) for i, lam in enumerate(RATE_LAMBDAS)],
    *[("mse", 0.03, dict(batch_size=16, rate_id=i, lmbda=lam)) for i, lam in enumerate(RATE_LAMBDAS)],
]


def run_plan(plan: list[tuple[str, float, dict[str, Any]]], runs: Path, data: Path, minutes: float,
             step_cap: int | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """Continue every stage of ``plan`` from the shipped checkpoints in one process.

    Each stage gets ``share * minutes`` of wall time (``step_cap`` more steps at most, for toy
    runs); ``overrides`` replace settings of every stage (tests: tiny batches and crops).
    """
    seed_runs(runs)
    bundled = data / "captions.safetensors"  # caption embeddings computed elsewhere (scripts/gpu_bundle.py)
    if bundled.exists() and not (runs / "captions.safetensors").exists():
        (runs / "captions.safetensors").write_bytes(bundled.read_bytes())
    summaries = []
    for stage, share, settings in plan:
        args = TrainArgs.for_stage(stage, data=data, runs=runs, max_minutes=share * minutes,
                                   **{**settings, **overrides})
        done = json.loads((args.run_dir / "progress.json").read_text())["step"]
        args.steps = done + step_cap if step_cap is not None else 10**9
        summaries.append(train(args))
    return summaries


def train_gpu(out: Path, data: Path, minutes: float = 5.0, step_cap: int | None = None,
              **overrides: Any) -> dict[str, Any]:
    """The GPU recipe (``scripts/train_gpu.sh``): continue, export with cards, write a summary."""
    tic = time.time()
    runs = out / "runs"
    summaries = run_plan(GPU_PLAN, runs, data, minutes, step_cap, **overrides)
    train_minutes = (time.time() - tic) / 60
    cards = export(runs, out=out / "checkpoints", data=data)
    summary = {"hardware": hardware(), "plan_minutes": minutes, "train_minutes": train_minutes,
               "total_minutes": (time.time() - tic) / 60,
               "stages": [{k: s[k] for k in ("stage", "steps", "minutes_this_run", "final_losses")}
                          | {"rate_id": s["args"]["rate_id"]} for s in summaries],
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
    toy = dict(batch_size=1, crop=256) if args.toy else {}
    result = train_gpu(args.out, args.data, args.minutes, args.step_cap, **toy)
    print(json.dumps({k: result[k] for k in ("hardware", "train_minutes", "total_minutes", "validation")}, indent=1))
