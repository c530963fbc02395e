"""Between training runs and the shipped checkpoints: export with model cards, and seeding runs.

:func:`export` writes base, shared and every finished rate point of a runs folder into
``ditic_lite/checkpoints`` (the layout of :mod:`ditic_lite.zoo`) with cards that hold the
training record of each stage and the validation-set measurements (real file bytes, PSNR,
MS-SSIM). :func:`seed_runs` goes the other way: the shipped checkpoints become finished stages of a
runs folder, so that training continues where the shipped model stopped.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import zoo
from .checkpoints import (
    is_entropy_table, load_into, load_weights, read_safetensors, save_weights, sha256_file, write_safetensors,
)
from .config import DiTICConfig
from .model import DiTIC
from .train_config import run_config, run_weights
from .train_data import VALIDATION, validation_images


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


def model_from_run(runs: Path, weights: Path, use_dit: bool) -> DiTIC:
    """A finished stage of ``runs`` as a model with LoRA (all its weights), tables computed; eval mode."""
    model = DiTIC(run_config(runs), use_dit=use_dit)
    model.add_lora()
    load_into(model, read_safetensors(weights), source=str(weights))
    model.codec.update(force=True)
    return model.eval()


@torch.no_grad()
def measure_on_validation(codec, images: list[torch.Tensor]) -> dict[str, float]:
    """Median bpp (real bytes), PSNR and MS-SSIM of a codec over the validation photos."""
    from .images import to_pil
    from .metrics import bits_per_pixel, ms_ssim, psnr

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
    in ``runs`` is left alone. The shipped files hold no stage 1 alone: it is seeded from the
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
            base, base_card = load_weights(tiny / "base.safetensors")
            shared, _ = load_weights(tiny / "shared.safetensors")
        rate, card = load_weights(rate_file) if rate_file else ({}, base_card)
        model = zoo.assemble(config, base, {**shared, **rate} if rate_file else None, use_dit=use_dit)
        return {k: v for k, v in model.state_dict().items() if not is_entropy_table(k)}, card

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
        if run_weights(runs, stage).exists():
            continue
        state, card = model_state(rate_file, use_dit)
        record = dict(card["stages"].get(card_key) or {})
        record.setdefault("runs", [{"from_step": 0, "to_step": record.get("steps", 0),
                                    "minutes": record.get("minutes_total", 0.0),
                                    "hardware": record.get("hardware", card.get("hardware"))}])
        folder.mkdir(parents=True, exist_ok=True)
        write_safetensors(state, run_weights(runs, stage))
        (folder / "summary.json").write_text(json.dumps(record, indent=1))
        (folder / "progress.json").write_text(json.dumps(
            {"step": record.get("steps", 0), "minutes": record.get("minutes_total", 0.0), "history": [],
             "runs": record["runs"], "seeded_from": str(rate_file or tiny / "base.safetensors")}))
        written.append(stage)
    return written


def export(runs: Path, out: Path = zoo.CHECKPOINT_DIR, data: Path | None = None) -> list[dict[str, Any]]:
    """Write base, shared and every finished rate point of ``runs`` into ``out`` with cards."""
    summaries = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/summary.json")}
    stage1 = model_from_run(runs, run_weights(runs, "stage1"), use_dit=True)
    base = zoo.base_state(stage1)
    # the autoencoder and the base DiT come from their own stages (frozen in stage 1, maybe trained further)
    for stage, prefix in (("ae", "vae."), ("dit", "DiT.")):
        if run_weights(runs, stage).exists():
            own = read_safetensors(run_weights(runs, stage))
            base.update({k: v for k, v in own.items() if k.startswith(prefix) and k in base})
    common = {"training_data": "ditic-lite training photos (72 photos: Wikimedia Commons + Debian wallpapers), "
                               f"{len(VALIDATION)} held out", "validation_images": list(VALIDATION),
              "hardware": hardware()}
    (out / "tiny").mkdir(parents=True, exist_ok=True)
    stage1.config.save(out / "tiny" / "config.json")
    base_card = {**common, "part": "base: autoencoder + base DiT + auxiliary encoder",
                 "config_sha256": sha256_file(out / "tiny" / "config.json"),
                 "stages": {k: summaries.get(k) for k in ("ae", "dit", "warmup", "stage1")}}
    save_weights(base, out / "tiny" / "base.safetensors", base_card)
    save_weights(zoo.shared_state(stage1), out / "tiny" / "shared.safetensors",
                 {**common, "part": "context model shared by all rate points",
                  "stages": {k: summaries.get(k) for k in ("warmup", "stage1")}})
    validation = validation_images(data) if data is not None else []  # measured only where held out photos exist
    cards = []
    for name, stage, use_dit in (("tiny", "stage2", True), ("mse", "mse", False)):
        for run in sorted(runs.glob(f"{stage}_r*")):
            if not (run / "model.safetensors").exists():
                continue
            rate = int(run.name.split("_r")[1])
            model = model_from_run(runs, run / "model.safetensors", use_dit=use_dit)
            card = {**common, "model": name, "rate": rate, "lambda": summaries.get(run.name, {}).get("args", {}).get("lmbda"),
                    "stages": {k: summaries.get(k) for k in ("warmup", "stage1", run.name)}}
            save_weights(zoo.rate_state(model), out / name / f"rate{rate}.safetensors", card)
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
