"""Between training runs and the shipped checkpoints: export with model cards, and seeding runs.

:func:`export` writes base, shared and every finished rate point of a runs folder into
``ditic_lite/checkpoints`` (the layout of :mod:`ditic_lite.zoo`) with cards that hold the
training record of each stage and the validation-set measurements (real file bytes, PSNR,
MS-SSIM). :func:`seed_runs` goes the other way: the shipped checkpoints become finished stages of a
runs folder, so that training continues where the shipped model stopped.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import zoo
from ..checkpoints import (
    is_entropy_table, load_into, load_weights, read_safetensors, save_weights, sha256_file, write_card,
    write_safetensors,
)
from ..config import DiTICConfig
from ..model import DiTIC
from ..realism import REALISM_FILE
from .recipe import Phase, plan_table, recipe_hash
from .runs import CODEC_STAGES, RunFolder, hardware
from .data import VALIDATION, validation_images


@torch.no_grad()
def validation_rows(codec, images: list[torch.Tensor], detail: bool = False) -> list[dict[str, float]]:
    """Per photo: real file bytes, bpp, PSNR, MS-SSIM (and ``detail``, the fine-detail retention
    of :func:`ditic_lite.spectrum.detail_retention`, if asked) of a codec."""
    from ..images import to_pil
    from ..metrics import bits_per_pixel, ms_ssim, psnr
    from ..spectrum import detail_retention

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


def tuned_lora(runs: Path) -> dict[str, torch.Tensor]:
    """The DiT and decoder LoRA of ``runs/tune`` (empty if there is no tune), after checking that
    its last run tuned the codec that ``runs/codec`` holds now (a codec trained on is tuned again)."""
    from .setup import tune_lora

    folder = RunFolder(runs)
    path = folder.weights("tune")
    if not path.exists():
        return {}
    tuned = (folder.progress("tune").get("runs") or [{}])[-1].get("codec_step")
    if tuned != folder.codec_step():
        raise ValueError(f"runs/tune last tuned the codec at step {tuned}, runs/codec is at step "
                         f"{folder.codec_step()}: run `ditic-lite train tune` again on it")
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
    from ..config import tiny_config

    checkpoints = checkpoints or zoo.CHECKPOINT_DIR
    tiny = checkpoints / "tiny"
    shipped = DiTICConfig.load(tiny / "config.json")
    current = shipped.codec.channel_steps
    config = shipped if current else DiTICConfig.from_dict({**tiny_config().to_dict(), "vae": shipped.vae,
                                                            "dit": shipped.dit})
    runs.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(runs)
    if not folder.config_file.exists():
        config.save(folder.config_file)
    base, base_card = load_weights(tiny / "base.safetensors")
    written = []

    def write_stage(stage: str, state: dict[str, torch.Tensor], record: dict[str, Any], source: Path) -> None:
        record = dict(record)
        record.setdefault("runs", [{"from_step": 0, "to_step": record.get("steps", 0),
                                    "minutes": record.get("minutes_total", 0.0),
                                    "hardware": record.get("hardware", base_card.get("hardware"))}])
        folder.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        write_safetensors(state, folder.weights(stage))
        folder.summary_file(stage).write_text(json.dumps(record, indent=1))
        folder.progress_file(stage).write_text(json.dumps(
            {"step": record.get("steps", 0), "minutes": record.get("minutes_total", 0.0), "history": [],
             "runs": record["runs"], "seeded_from": str(source)}))
        written.append(stage)

    def full_state(model: DiTIC) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if not is_entropy_table(k)}

    base_model = DiTIC(config)
    load_into(base_model, {k: v for k, v in base.items() if k.startswith(("vae.", "DiT."))
                           or (current and k.startswith("aux_codec."))}, required=())
    for stage in ("ae", "dit"):
        if not folder.weights(stage).exists():
            write_stage(stage, full_state(base_model), base_card["stages"].get(stage) or {}, tiny / "base.safetensors")
    encoder = folder.frozen_encoder
    if current and not encoder.exists():
        from .latent_cache import encoder_state
        encoder.parent.mkdir(parents=True, exist_ok=True)
        write_safetensors(encoder_state(base_model), encoder)
    if not current:
        return written
    for name, stage, use_dit in CODEC_STAGES:
        if folder.weights(stage).exists() or not (checkpoints / name / "shared.safetensors").exists():
            continue
        shared, card = load_weights(checkpoints / name / "shared.safetensors")
        rates = zoo.available_rates(name, checkpoints)
        steps = torch.stack([load_weights(checkpoints / name / f"rate{r}.safetensors")[0]["codec.log_step"]
                             for r in rates]).float()
        model = zoo.assemble(config, base, {**shared, "codec.log_step": steps[0]}, use_dit=use_dit)
        write_stage(stage, full_state(model), card["stages"].get(stage) or {}, checkpoints / name / "shared.safetensors")
        write_safetensors({"rate_log_steps": steps}, folder.own_tensors(stage))
        tune = card["stages"].get("tune")
        if stage == "codec" and tune and not folder.weights("tune").exists():  # its LoRA is in the shared file
            write_stage("tune", full_state(model), tune, checkpoints / name / "shared.safetensors")
    realism = tiny / REALISM_FILE
    if realism.exists() and not folder.own_tensors("realism").exists():  # the realism decoder's head
        head, card = load_weights(realism)
        # nothing of the model trains in that stage: an empty model file, so a continued run keeps its steps
        write_stage("realism", {}, card.get("stages", {}).get("realism") or {}, realism)
        write_safetensors(head, folder.own_tensors("realism"))
    return written


def export(runs: Path, out: Path = zoo.CHECKPOINT_DIR, data: Path | None = None,
           recipe: "tuple[Phase, ...] | None" = None) -> list[dict[str, Any]]:
    """Write base, and each trained codec's shared file and rate points, from ``runs`` into ``out``.

    The cards hold the training record of each stage, the recipe that ran (``recipe``: its hash and
    phases, when ``train all`` exported), the frozen encoder's digest and, where the
    held-out photos are found in ``data``, the validation-set measurements of every rate point
    (real file bytes), measured through the real load path.
    """
    from .latent_cache import read_index

    folder = RunFolder(runs)
    summaries = folder.summaries()
    config = folder.config()
    if not config.codec.channel_steps:
        raise ValueError("export writes codecs with per-channel steps (the latent-space stages)")
    index = read_index(folder.cache)
    trained = [(name, stage, use_dit) for name, stage, use_dit in CODEC_STAGES if folder.weights(stage).exists()]
    if not trained:
        raise FileNotFoundError(f"no trained codec in {runs} (codec, mse): train them first")
    first = folder.model(trained[0][1], use_dit=trained[0][2])
    base = zoo.base_state(first)
    # the autoencoder and the base DiT come from their own stages (the decoder may have trained
    # further), the encoder and the auxiliary encoder from the latent cache (frozen for good)
    for stage, prefix in (("ae", "vae."), ("dit", "DiT.")):
        if folder.weights(stage).exists():
            own = read_safetensors(folder.weights(stage))
            base.update({k: v for k, v in own.items() if k.startswith(prefix) and k in base})
    base.update(read_safetensors(folder.frozen_encoder))
    common = {"training_data": f"ditic-lite training photos ({index['photos']} photos: Wikimedia Commons, "
                               f"Debian wallpapers and more, see data/train_extra), {len(VALIDATION)} held out",
              "validation_images": list(VALIDATION), "hardware": hardware(),
              "encoder_sha256": index["encoder_sha256"],
              "latent_cache": {k: index[k] for k in ("photos", "sides")} | {"views": len(index["views"])},
              **({"recipe": {"sha256": recipe_hash(recipe), "phases": plan_table(recipe)}} if recipe else {})}
    (out / "tiny").mkdir(parents=True, exist_ok=True)
    config.save(out / "tiny" / "config.json")
    base_card = {**common, "part": "base: autoencoder + base DiT + auxiliary encoder",
                 "config_sha256": sha256_file(out / "tiny" / "config.json"),
                 "stages": {k: summaries.get(k) for k in ("ae", "dit")}}
    save_weights(base, out / "tiny" / "base.safetensors", base_card)
    cards = []
    tune = tuned_lora(runs)
    for name, stage, use_dit in trained:
        model = folder.model(stage, use_dit=use_dit)
        stages = {stage: summaries.get(stage)}
        if stage == "codec" and tune:  # the pixel-space tune's DiT and decoder LoRA over the codec's
            load_into(model, tune, required=(), source=str(folder.weights("tune")))
            stages["tune"] = summaries.get("tune")
        steps = folder.rate_log_steps(stage)
        lambdas = (summaries.get(stage) or {}).get("args", {}).get("lambdas")
        model_dir = out / name
        model_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*model_dir.glob("rate*.safetensors"), *model_dir.glob("rate*.json")]:
            stale.unlink()
        save_weights(zoo.shared_state(model), model_dir / "shared.safetensors",
                     {**common, "model": name, "part": "latent codec, prompter and LoRA of every rate point",
                      "stages": stages})
        for rate, row in enumerate(steps):
            model.codec.log_step.data.copy_(row)
            card = {**common, "model": name, "rate": rate, "lambda": lambdas[rate] if lambdas else None,
                    "part": "the rate point's quantisation step per y channel (codec.log_step)",
                    "mean_step": float(row.exp().mean()), "stages": stages}
            save_weights(zoo.rate_state(model), model_dir / f"rate{rate}.safetensors", card)
            cards.append(card)
    validation = validation_images(data) if data is not None else []  # measured only where held out photos exist
    if validation:  # measure through the real load path, then record in the cards
        for card in cards:
            codec = zoo.load(card["model"], rate=card["rate"], checkpoints=out)
            card["validation"] = measure_on_validation(codec, validation)
            path = out / card["model"] / f"rate{card['rate']}.json"
            stored = json.loads(path.read_text())
            stored["validation"] = card["validation"]
            write_card(path, stored)
    return cards
