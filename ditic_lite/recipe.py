"""The full recipe behind the shipped tiny checkpoints, and their export with model cards.

``ditic-lite train all`` runs, in order and resumably (rerun the same command after a stop):
autoencoder -> base DiT -> codec warm-up in latent space -> DiT-IC stage 1 (lambda_base) -> stage 2 per rate point -> MSE
baseline per rate point -> export to ``ditic_lite/checkpoints`` with cards that hold the
validation-set measurements (real file bytes, PSNR, MS-SSIM).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import zoo
from .config import DiTICConfig, tiny_config
from .model import DiTIC

# lambda of each shipped rate point (rate weight in L = lambda * bpp + D + ...), lowest rate first.
# Stage 1 trains at the highest rate (smallest lambda); stage 2 "prunes" to each target
# (paper section 3.5: lambda_target >= lambda_base). D is MSE on [-1, 1] + 0.2 (1 - MS-SSIM),
# about 0.1 for the tiny model, so lambda * bpp must be of that order to move the rate: in our
# run lambda 16 / 4 / 1 / 0.004 gave 0.031 / 0.039 / 0.044 / 0.049 bpp on the validation photos.
RATE_LAMBDAS = (16.0, 4.0, 1.0, 0.004)
LAMBDA_BASE = 0.004
# rate weight of the codec warm-up, whose distortion is the MSE of y_tilde against the unit-variance
# latent (train.py): it sets how many bits stage 1 starts from.
LAMBDA_WARMUP = 0.01
# margin m of the self-distillation loss ReLU(1 - m - cos) in the kit's training (align.py). The
# release's m = 0.5 never acts on the tiny model: on the validation photos cos(y_hat, E(x)) per
# latent position has quantiles 5/50/95 % = 0.77 / 0.92 / 0.98 (shipped rate 1, 2026-11-29), so
# 0.3 % of positions fall below 0.5 and the loss is ~1e-5. With m = 0.1 the hinge acts on the
# worst 40 % of positions (mean hinge 0.025 before the weight 0.05).
DISTILL_MARGIN = 0.1


def hardware() -> str:
    """One line naming what trained the checkpoints: the GPU if any, else CPU model and cores."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores, no GPU, torch {torch.__version__}"


def _model_from_run(runs: Path, stage_file: Path, use_dit: bool) -> DiTIC:
    cfg_path = runs / "config.json"
    cfg = DiTICConfig.load(cfg_path) if cfg_path.exists() else tiny_config()
    model = DiTIC(cfg, use_dit=use_dit)
    model.add_lora()
    tensors = load_file(str(stage_file))
    own = model.state_dict()
    missing = [k for k in own if k not in tensors and "_quantized_cdf" not in k and "_offset" not in k
               and "_cdf_length" not in k and "scale_table" not in k]
    if missing:
        raise RuntimeError(f"{stage_file}: missing {missing[:3]}")
    model.load_state_dict({k: v for k, v in tensors.items() if own[k].shape == v.shape}, strict=False)
    model.codec.update(force=True)
    return model.eval()


@torch.no_grad()
def measure_on_validation(codec, images: list[torch.Tensor]) -> dict[str, float]:
    """Median bpp (real bytes), PSNR and MS-SSIM of a codec over the validation photos."""
    from .metrics import bits_per_pixel, ms_ssim, psnr
    from .images import to_pil

    rows = []
    for x in images:
        data = codec.compress(x)
        rec = codec.decompress(data)
        orig = to_pil(x)
        rows.append((bits_per_pixel(len(data), x.shape[-2], x.shape[-1]), psnr(orig, rec), ms_ssim(orig, rec)))
    a = np.array(rows)
    return {"bpp": float(a[:, 0].mean()), "psnr": float(a[:, 1].mean()), "ms_ssim": float(a[:, 2].mean()),
            "images": len(rows), "note": "means over the validation set, 768x512 crops, real file sizes"}


def seed_runs(runs: Path, checkpoints: Path | None = None) -> list[str]:
    """Copy the shipped checkpoints into ``runs`` as finished stages, so training continues from them.

    Each stage gets ``model.safetensors`` (float32 model state), ``progress.json`` (steps and
    minutes done, from its card) and ``summary.json`` (the card's record of it); a stage already
    in ``runs`` is left alone. The release has no file for stage 1 alone: it is seeded from the
    highest rate point (stage 2 at stage 1's lambda), whose codec stage 1 would continue from.
    Returns the stages written.
    """
    checkpoints = checkpoints or zoo.CHECKPOINT_DIR
    tiny = checkpoints / "tiny"
    config = DiTICConfig.load(tiny / "config.json")
    base = base_card = shared = None

    def model_state(rate_file: Path | None, use_dit: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        nonlocal base, base_card, shared
        if base is None:  # read only when a stage needs seeding
            base, base_card = zoo.load_weights(tiny / "base.safetensors")
            shared, _ = zoo.load_weights(tiny / "shared.safetensors")
        rate, card = zoo.load_weights(rate_file) if rate_file else ({}, base_card)
        model = zoo.assemble(config, base, {**shared, **rate} if rate_file else None, use_dit=use_dit)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if not zoo.ENTROPY_TABLES.search(k)}
        return state, card

    top = tiny / f"rate{max(zoo.available_rates('tiny', checkpoints))}.safetensors"
    plan = {"ae": (None, True, "ae"), "dit": (None, True, "dit"), "warmup": (top, True, "warmup"),
            "stage1": (top, True, "stage1")}
    for name, stage, use_dit in (("tiny", "stage2", True), ("mse", "mse", False)):
        for rate in zoo.available_rates(name, checkpoints):
            plan[f"{stage}_r{rate}"] = (checkpoints / name / f"rate{rate}.safetensors", use_dit, f"{stage}_r{rate}")
    runs.mkdir(parents=True, exist_ok=True)
    if not (runs / "config.json").exists():
        config.save(runs / "config.json")
    written = []
    for stage, (rate_file, use_dit, card_key) in plan.items():
        folder = runs / stage
        if (folder / "model.safetensors").exists():
            continue
        state, card = model_state(rate_file, use_dit)
        record = dict(card["stages"].get(card_key) or {})
        record.setdefault("runs", [{"from_step": 0, "to_step": record.get("steps", 0),
                                    "minutes": record.get("minutes_total", 0.0),
                                    "hardware": record.get("hardware", card.get("hardware"))}])
        folder.mkdir(parents=True, exist_ok=True)
        save_file(state, str(folder / "model.safetensors"))
        (folder / "summary.json").write_text(json.dumps(record, indent=1))
        (folder / "progress.json").write_text(json.dumps(
            {"step": record.get("steps", 0), "minutes": record.get("minutes_total", 0.0), "history": [],
             "runs": record["runs"], "seeded_from": str(rate_file or tiny / "base.safetensors")}))
        written.append(stage)
    return written


def export(runs: Path, out: Path = zoo.CHECKPOINT_DIR, data: Path | None = None) -> list[dict[str, Any]]:
    """Write base, shared and every finished rate point of ``runs`` into ``out`` with cards."""
    from .train import VALIDATION, validation_images

    summaries = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/summary.json")}
    stage1 = _model_from_run(runs, runs / "stage1" / "model.safetensors", use_dit=True)
    base = zoo.base_state(stage1)
    # the autoencoder and the base DiT come from their own stages (frozen in stage 1, maybe trained further)
    for stage, prefix in (("ae", "vae."), ("dit", "DiT.")):
        if (runs / stage / "model.safetensors").exists():
            own = load_file(str(runs / stage / "model.safetensors"))
            base.update({k: v for k, v in own.items() if k.startswith(prefix) and k in base})
    common = {"training_data": "ditic-lite training photos (72 photos: Wikimedia Commons + Debian wallpapers), "
                               f"{len(VALIDATION)} held out", "validation_images": list(VALIDATION),
              "hardware": hardware()}
    (out / "tiny").mkdir(parents=True, exist_ok=True)
    stage1.config.save(out / "tiny" / "config.json")
    base_card = {**common, "part": "base: autoencoder + base DiT + auxiliary encoder",
                 "config_sha256": zoo.sha256_file(out / "tiny" / "config.json"),
                 "stages": {k: summaries.get(k) for k in ("ae", "dit", "warmup", "stage1")}}
    zoo.save_weights(base, out / "tiny" / "base.safetensors", base_card)
    zoo.save_weights(zoo.shared_state(stage1), out / "tiny" / "shared.safetensors",
                     {**common, "part": "context model shared by all rate points",
                      "stages": {k: summaries.get(k) for k in ("warmup", "stage1")}})
    validation = validation_images(data) if data is not None else []  # measured only where held out photos exist
    cards = []
    for name, stage, use_dit in (("tiny", "stage2", True), ("mse", "mse", False)):
        for run in sorted(runs.glob(f"{stage}_r*")):
            if not (run / "model.safetensors").exists():
                continue
            rate = int(run.name.split("_r")[1])
            model = _model_from_run(runs, run / "model.safetensors", use_dit=use_dit)
            card = {**common, "model": name, "rate": rate, "lambda": summaries.get(run.name, {}).get("args", {}).get("lmbda"),
                    "stages": {k: summaries.get(k) for k in ("warmup", "stage1", run.name)}}
            zoo.save_weights(zoo.rate_state(model), out / name / f"rate{rate}.safetensors", card)
            cards.append(card)
    if validation:  # measure through the real load path, then record in the cards
        for card in cards:
            codec = zoo.load(card["model"], rate=card["rate"], checkpoints=out)
            card["validation"] = measure_on_validation(codec, validation)
            path = out / card["model"] / f"rate{card['rate']}.json"
            stored = json.loads(path.read_text())
            stored["validation"] = card["validation"]
            path.write_text(json.dumps(stored, indent=1))
    return cards


# One time-boxed continuation run on one GPU: (stage, share of the minutes, settings). The shares
# follow the CPU recipe (scripts/train_shipped.sh); batches and crops are larger, ae and dit in bf16.
GPU_PLAN: list[tuple[str, float, dict[str, Any]]] = [
    ("ae", 0.30, dict(batch_size=32, crop=256, lr=2e-4, bf16=True)),
    ("dit", 0.08, dict(batch_size=64, bf16=True)),
    ("warmup", 0.14, dict(batch_size=32)),
    ("stage1", 0.20, dict(batch_size=16, lmbda=LAMBDA_BASE)),
    *[("stage2", 0.04, dict(batch_size=16, rate_id=i, lmbda=lam)) for i, lam in enumerate(RATE_LAMBDAS)],
    *[("mse", 0.03, dict(batch_size=16, rate_id=i, lmbda=lam)) for i, lam in enumerate(RATE_LAMBDAS)],
]


def run_plan(plan: list[tuple[str, float, dict[str, Any]]], runs: Path, data: Path, minutes: float,
             step_cap: int | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """Continue every stage of ``plan`` from the shipped checkpoints in one process.

    Each stage gets ``share * minutes`` of wall time (``step_cap`` more steps at most, for toy
    runs); ``overrides`` replace settings of every stage (tests: tiny batches and crops).
    """
    from .train import STAGE_DEFAULTS, TrainArgs, train

    seed_runs(runs)
    bundled = data / "captions.safetensors"  # caption embeddings computed elsewhere (scripts/gpu_bundle.py)
    if bundled.exists() and not (runs / "captions.safetensors").exists():
        (runs / "captions.safetensors").write_bytes(bundled.read_bytes())
    summaries = []
    for stage, share, settings in plan:
        args = TrainArgs(stage=stage, data=data, runs=runs, max_minutes=share * minutes,
                         **{**STAGE_DEFAULTS[stage], **settings, **overrides})
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


def train_all(ns: argparse.Namespace) -> None:
    """Every stage in order, then export; prints the wall time of each stage."""
    from .train import STAGE_DEFAULTS, TrainArgs, train

    runs, data = Path(ns.runs), Path(ns.data)
    plan = [("ae", 0, None), ("dit", 0, None), ("warmup", 0, None), ("stage1", 0, LAMBDA_BASE)]
    plan += [("stage2", i, lam) for i, lam in enumerate(RATE_LAMBDAS)]
    plan += [("mse", i, lam) for i, lam in enumerate(RATE_LAMBDAS)]
    for stage, rate_id, lmbda in plan:
        kwargs = dict(STAGE_DEFAULTS[stage])
        if lmbda is not None:
            kwargs["lmbda"] = lmbda
        tic = time.time()
        train(TrainArgs(stage=stage, data=data, runs=runs, rate_id=rate_id, seed=ns.seed, cpu=ns.cpu, **kwargs))
        print(f"{stage} (rate {rate_id}): {(time.time() - tic) / 60:.1f} min")
    export(runs, data=data)


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
