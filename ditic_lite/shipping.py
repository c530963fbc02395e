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
from .realism import REALISM_FILE
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
def validation_rows(codec, images: list[torch.Tensor], detail: bool = False) -> list[dict[str, float]]:
    """Per photo: real file bytes, bpp, PSNR, MS-SSIM (and ``detail``, the fine-detail retention
    of :func:`ditic_lite.spectrum.detail_retention`, if asked) of a codec."""
    from .images import to_pil
    from .metrics import bits_per_pixel, ms_ssim, psnr
    from .spectrum import detail_retention

    rows = []
    for x in images:
        data = codec.compress(x)
        rec = codec.decompress(data)
        orig = to_pil(x)
        row = {"bytes": len(data), "bpp": bits_per_pixel(len(data), x.shape[-2], x.shape[-1]),
               "psnr": psnr(orig, rec), "ms_ssim": ms_ssim(orig, rec)}
        rows.append({**row, "detail": detail_retention(orig, rec)} if detail else row)
    return rows


def measure_on_validation(codec, images: list[torch.Tensor]) -> dict[str, float]:
    """Mean bpp (real bytes), PSNR and MS-SSIM of a codec over the validation photos."""
    a = np.array([[r["bpp"], r["psnr"], r["ms_ssim"]] for r in validation_rows(codec, images)])
    return {"bpp": float(a[:, 0].mean()), "psnr": float(a[:, 1].mean()), "ms_ssim": float(a[:, 2].mean()),
            "images": len(a), "note": "means over the validation set, 768x512 crops, real file sizes"}


CODEC_RUNS = (("tiny", "codec", True), ("mse", "mse", False))  # model name, its stage, DiT step


def tuned_lora(runs: Path) -> dict[str, torch.Tensor]:
    """The DiT and decoder LoRA of ``runs/tune`` (empty if there is no tune), after checking that
    its last run tuned the codec that ``runs/codec`` holds now (a codec trained on is tuned again)."""
    from .train_setup import tune_lora, codec_stage_step

    path = run_weights(runs, "tune")
    if not path.exists():
        return {}
    runs_done = json.loads((runs / "tune" / "progress.json").read_text()).get("runs") or [{}]
    tuned = runs_done[-1].get("codec_step")
    if tuned != codec_stage_step(runs):
        raise ValueError(f"runs/tune last tuned the codec at step {tuned}, runs/codec is at step "
                         f"{codec_stage_step(runs)}: run `ditic-lite train tune` again on it")
    return tune_lora(read_safetensors(path))


def seed_runs(runs: Path, checkpoints: Path | None = None) -> list[str]:
    """Copy the shipped checkpoints into ``runs`` as finished stages, so training continues from them.

    Each stage gets ``model.safetensors`` (float32 model state), ``progress.json`` (steps and
    minutes done, from its card) and ``summary.json`` (the card's record of it); a stage already
    in ``runs`` is left alone. The frozen encoder goes to ``runs/cache/encoder.safetensors``
    (``train cache`` then encodes the photos with it), and each codec's shared file and rate
    steps to its stage (a shipped DiT-IC tuned in pixel space seeds ``runs/tune`` too, with
    the LoRA of its shared file; a shipped realism decoder seeds ``runs/realism`` with its head). Checkpoints of the first tiny tiers (no per-channel steps) seed only the
    autoencoder and the base DiT: their codecs cannot be continued by the latent-space stages, and
    ``runs/config.json`` then takes the tiny preset's codec. Returns the stages written.
    """
    from .config import tiny_config

    checkpoints = checkpoints or zoo.CHECKPOINT_DIR
    tiny = checkpoints / "tiny"
    shipped = DiTICConfig.load(tiny / "config.json")
    current = shipped.codec.channel_steps
    config = shipped if current else DiTICConfig.from_dict({**tiny_config().to_dict(), "vae": shipped.vae,
                                                            "dit": shipped.dit})
    runs.mkdir(parents=True, exist_ok=True)
    if not (runs / "config.json").exists():
        config.save(runs / "config.json")
    base, base_card = load_weights(tiny / "base.safetensors")
    written = []

    def write_stage(stage: str, state: dict[str, torch.Tensor], record: dict[str, Any], source: Path) -> None:
        folder = runs / stage
        record = dict(record)
        record.setdefault("runs", [{"from_step": 0, "to_step": record.get("steps", 0),
                                    "minutes": record.get("minutes_total", 0.0),
                                    "hardware": record.get("hardware", base_card.get("hardware"))}])
        folder.mkdir(parents=True, exist_ok=True)
        write_safetensors(state, run_weights(runs, stage))
        (folder / "summary.json").write_text(json.dumps(record, indent=1))
        (folder / "progress.json").write_text(json.dumps(
            {"step": record.get("steps", 0), "minutes": record.get("minutes_total", 0.0), "history": [],
             "runs": record["runs"], "seeded_from": str(source)}))
        written.append(stage)

    def full_state(model: DiTIC) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if not is_entropy_table(k)}

    base_model = DiTIC(config)
    load_into(base_model, {k: v for k, v in base.items() if k.startswith(("vae.", "DiT."))
                           or (current and k.startswith("aux_codec."))}, required=())
    for stage in ("ae", "dit"):
        if not run_weights(runs, stage).exists():
            write_stage(stage, full_state(base_model), base_card["stages"].get(stage) or {}, tiny / "base.safetensors")
    encoder = runs / "cache" / "encoder.safetensors"
    if current and not encoder.exists():
        from .latent_cache import encoder_state
        encoder.parent.mkdir(parents=True, exist_ok=True)
        write_safetensors(encoder_state(base_model), encoder)
    if not current:
        return written
    for name, stage, use_dit in CODEC_RUNS:
        if run_weights(runs, stage).exists() or not (checkpoints / name / "shared.safetensors").exists():
            continue
        shared, card = load_weights(checkpoints / name / "shared.safetensors")
        rates = zoo.available_rates(name, checkpoints)
        steps = torch.stack([load_weights(checkpoints / name / f"rate{r}.safetensors")[0]["codec.log_step"]
                             for r in rates]).float()
        model = zoo.assemble(config, base, {**shared, "codec.log_step": steps[0]}, use_dit=use_dit)
        write_stage(stage, full_state(model), card["stages"].get(stage) or {}, checkpoints / name / "shared.safetensors")
        write_safetensors({"rate_log_steps": steps}, runs / stage / "stage.safetensors")
        tune = card["stages"].get("tune")
        if stage == "codec" and tune and not run_weights(runs, "tune").exists():  # its LoRA is in the shared file
            write_stage("tune", full_state(model), tune, checkpoints / name / "shared.safetensors")
    realism = tiny / REALISM_FILE
    if realism.exists() and not (runs / "realism" / "stage.safetensors").exists():  # the realism decoder's head
        head, card = load_weights(realism)
        # nothing of the model trains in that stage: an empty model file, so a continued run keeps its steps
        write_stage("realism", {}, card.get("stages", {}).get("realism") or {}, realism)
        write_safetensors(head, runs / "realism" / "stage.safetensors")
    return written


def export(runs: Path, out: Path = zoo.CHECKPOINT_DIR, data: Path | None = None) -> list[dict[str, Any]]:
    """Write base, and each trained codec's shared file and rate points, from ``runs`` into ``out``.

    The cards hold the training record of each stage, the frozen encoder's digest and, where the
    held-out photos are found in ``data``, the validation-set measurements of every rate point
    (real file bytes), measured through the real load path.
    """
    from .latent_cache import read_index

    summaries = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/summary.json")}
    config = run_config(runs)
    if not config.codec.channel_steps:
        raise ValueError("export writes codecs with per-channel steps (the latent-space stages)")
    index = read_index(runs / "cache")
    trained = [(name, stage, use_dit) for name, stage, use_dit in CODEC_RUNS if run_weights(runs, stage).exists()]
    if not trained:
        raise FileNotFoundError(f"no trained codec in {runs} (codec, mse): train them first")
    first = model_from_run(runs, run_weights(runs, trained[0][1]), use_dit=trained[0][2])
    base = zoo.base_state(first)
    # the autoencoder and the base DiT come from their own stages (the decoder may have trained
    # further), the encoder and the auxiliary encoder from the latent cache (frozen for good)
    for stage, prefix in (("ae", "vae."), ("dit", "DiT.")):
        if run_weights(runs, stage).exists():
            own = read_safetensors(run_weights(runs, stage))
            base.update({k: v for k, v in own.items() if k.startswith(prefix) and k in base})
    base.update(read_safetensors(runs / "cache" / "encoder.safetensors"))
    common = {"training_data": f"ditic-lite training photos ({index['photos']} photos: Wikimedia Commons, "
                               f"Debian wallpapers and more, see data/train_extra), {len(VALIDATION)} held out",
              "validation_images": list(VALIDATION), "hardware": hardware(),
              "encoder_sha256": index["encoder_sha256"],
              "latent_cache": {k: index[k] for k in ("photos", "sides")} | {"views": len(index["views"])}}
    (out / "tiny").mkdir(parents=True, exist_ok=True)
    config.save(out / "tiny" / "config.json")
    base_card = {**common, "part": "base: autoencoder + base DiT + auxiliary encoder",
                 "config_sha256": sha256_file(out / "tiny" / "config.json"),
                 "stages": {k: summaries.get(k) for k in ("ae", "dit")}}
    save_weights(base, out / "tiny" / "base.safetensors", base_card)
    cards = []
    tune = tuned_lora(runs)
    for name, stage, use_dit in trained:
        model = model_from_run(runs, run_weights(runs, stage), use_dit=use_dit)
        stages = {stage: summaries.get(stage)}
        if stage == "codec" and tune:  # the pixel-space tune's DiT and decoder LoRA over the codec's
            load_into(model, tune, required=(), source=str(run_weights(runs, "tune")))
            stages["tune"] = summaries.get("tune")
        steps = read_safetensors(runs / stage / "stage.safetensors")["rate_log_steps"]
        lambdas = (summaries.get(stage) or {}).get("args", {}).get("lambdas")
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for stale in [*folder.glob("rate*.safetensors"), *folder.glob("rate*.json")]:
            stale.unlink()
        save_weights(zoo.shared_state(model), folder / "shared.safetensors",
                     {**common, "model": name, "part": "latent codec, prompter and LoRA of every rate point",
                      "stages": stages})
        for rate, row in enumerate(steps):
            model.codec.log_step.data.copy_(row)
            card = {**common, "model": name, "rate": rate, "lambda": lambdas[rate] if lambdas else None,
                    "part": "the rate point's quantisation step per y channel (codec.log_step)",
                    "mean_step": float(row.exp().mean()), "stages": stages}
            save_weights(zoo.rate_state(model), folder / f"rate{rate}.safetensors", card)
            cards.append(card)
    validation = validation_images(data) if data is not None else []  # measured only where held out photos exist
    if validation:  # measure through the real load path, then record in the cards
        for card in cards:
            codec = zoo.load(card["model"], rate=card["rate"], checkpoints=out)
            card["validation"] = measure_on_validation(codec, validation)
            path = out / card["model"] / f"rate{card['rate']}.json"
            stored = json.loads(path.read_text())
            stored["validation"] = card["validation"]
            path.write_text(json.dumps(stored, indent=1))
    return cards
