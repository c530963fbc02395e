"""THE recipe of the shipped tiny checkpoints: read it top to bottom.

Each phase names its stage, the steps it adds, and every setting that differs from the stage's
defaults (the fields of its config in :mod:`.stages`). Per stage, the phases' steps add up to the
steps in the shipped model cards (``tests/test_recipe.py`` checks it), and the cards' run
records (``ditic_lite/checkpoints/*/*.json``) are where each number comes from; all of it ran on
2 CPU cores, one-thread processes side by side (``docs/training.md`` tells the story).

    ditic-lite train plan [--json]        # print it
    ditic-lite train all                  # run it, phase by phase, resumable; then export (.pipeline)
    ditic-lite train all --toy --runs DIR # every phase at toy size on the kit's own photos (minutes)

The last phase trains the realism decoder's texture head (a second decoder of the same files) on
the finished DiT-IC; ``data/results/realism_experiments.csv`` says which other settings were tried.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainArgs
from .stages import STAGE_CONFIGS, stage_config


@dataclass(frozen=True)
class Phase:
    """One phase: ``steps`` more steps of ``stage`` with ``settings`` over its defaults."""

    name: str
    stage: str  # a stage of .stages, or "cache" (no training: freeze the encoder, encode the photos)
    steps: int
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""


RECIPE: tuple[Phase, ...] = (
    Phase("autoencoder", "ae", 5_850, note="encoder and decoder on 128-px crops (the first 2,000 steps' "
          "settings were not recorded)"),
    Phase("latent cache", "cache", 0, note="the encoder is frozen for good; the photos are encoded at two "
          "sizes, mirrored"),
    Phase("base DiT", "dit", 965, note="caption-conditioned rectified flow (the shipped run's first 518 steps "
          "ran on 256-px image crops, before the latent cache existed)"),
    Phase("decoder", "ae", 16_670, dict(freeze_encoder=True), note="the decoder alone on the frozen encoder"),
    Phase("DiT-IC codec", "codec", 10_889, note="every rate point of one model, on 512-px latent crops"),
    Phase("DiT-IC codec, annealed", "codec", 9_111, dict(lr=1.5e-4)),
    Phase("MSE baseline", "mse", 10_889, note="the same codec without the DiT step"),
    Phase("MSE baseline, annealed", "mse", 9_111, dict(lr=1.5e-4)),
    Phase("decoder on decoded latents", "ae", 1_649,
          dict(freeze_encoder=True, batch_size=2, crop=512, lr=1e-4, ms_ssim_weight=0.05, decoded_share=0.5),
          note="half the batches decoded from both codecs' y_hat, as files decode"),
    Phase("pixel tune, discriminator warming up", "tune", 584, dict(adversarial_weight=0.1),
          note="DiT and decoder LoRA of DiT-IC on 512-px crops coded as files; the codec frozen"),
    Phase("pixel tune", "tune", 2_501),
    Phase("pixel tune, stronger discriminator", "tune", 2_294, dict(adversarial_weight=1.0),
          note="a run at 0.5 beside it reached 5,351 steps; 1.0 kept more detail, so it shipped"),
    Phase("realism decoder", "realism", 1_787, dict(adversarial_weight=0.0, energy_weight=0.01, overdraw_weight=3.0),
          note="the texture head alone on the frozen DiT-IC: fine-detail energy matched block by block, "
               "overdrawing a block costs 3x underdrawing it; no discriminator"),
)

# A toy run goes through every phase on a CPU in minutes: a few steps each, batch 1, the smallest
# crops a stage accepts (a crop coded as a file needs 256 px: the codec's latent multiple of 8).
TOY_STEPS = 2
TOY_SETTINGS = {"ae": dict(batch_size=1, crop=64), "dit": dict(batch_size=1, crop=8),
                "codec": dict(batch_size=1, crop=8), "mse": dict(batch_size=1, crop=8),
                "tune": dict(batch_size=1, crop=256), "decoded": dict(batch_size=1, crop=256),
                "realism": dict(batch_size=1, crop=256)}
# On one GPU (scripts/train_gpu.sh) the recipe continues from the shipped checkpoints: each phase
# again, with GPU_BATCH_SCALE times the batch for GPU_BATCH_SCALE times fewer steps (the same crops
# seen), time-boxed to a share of the minutes given that follows its steps.
GPU_BATCH_SCALE = 4


def recipe_hash(recipe: tuple[Phase, ...] = RECIPE) -> str:
    """SHA-256 of the recipe's phases (recorded in the model cards of an export)."""
    return hashlib.sha256(json.dumps([asdict(p) for p in recipe], sort_keys=True).encode()).hexdigest()


def steps_per_stage(recipe: tuple[Phase, ...] = RECIPE) -> dict[str, int]:
    """Each stage's steps over the whole recipe."""
    total: dict[str, int] = {}
    for phase in recipe:
        if phase.stage != "cache":
            total[phase.stage] = total.get(phase.stage, 0) + phase.steps
    return total


def toy_recipe(recipe: tuple[Phase, ...] = RECIPE) -> tuple[Phase, ...]:
    """The recipe at toy size (:data:`TOY_STEPS` a phase, :data:`TOY_SETTINGS`)."""
    def toy(phase: Phase) -> Phase:
        kind = "decoded" if phase.settings.get("decoded_share") else phase.stage
        return Phase(phase.name, phase.stage, TOY_STEPS if phase.stage != "cache" else 0,
                     {**phase.settings, **TOY_SETTINGS.get(kind, {})}, phase.note)
    return tuple(toy(p) for p in recipe)


def gpu_recipe(recipe: tuple[Phase, ...] = RECIPE) -> tuple[Phase, ...]:
    """The recipe on one GPU: :data:`GPU_BATCH_SCALE` times the batch, as many times fewer steps."""
    def scaled(phase: Phase) -> Phase:
        if phase.stage == "cache":
            return phase
        batch = phase.settings.get("batch_size", STAGE_CONFIGS[phase.stage].batch_size)
        return Phase(phase.name, phase.stage, math.ceil(phase.steps / GPU_BATCH_SCALE),
                     {**phase.settings, "batch_size": batch * GPU_BATCH_SCALE}, phase.note)
    return tuple(scaled(p) for p in recipe)


def phase_args(phase: Phase, runs: Path, data: Path, until: int, **run: Any) -> TrainArgs:
    """The stage config of a phase: its settings over the stage's defaults, trained ``until`` a step."""
    return stage_config(phase.stage, runs=runs, data=data, steps=until, **phase.settings, **run)


def plan_table(recipe: tuple[Phase, ...] = RECIPE) -> list[dict[str, Any]]:
    """The recipe as rows: phase, stage, the steps it adds, the stage's steps after it, settings, note."""
    rows, done = [], {}
    for phase in recipe:
        done[phase.stage] = done.get(phase.stage, 0) + phase.steps
        rows.append({"phase": phase.name, "stage": phase.stage, "steps": phase.steps,
                     "stage_steps_after": done[phase.stage] if phase.stage != "cache" else None,
                     "settings": phase.settings, "note": phase.note})
    return rows


def format_plan(recipe: tuple[Phase, ...] = RECIPE) -> str:
    """The recipe as a readable table (``ditic-lite train plan``)."""
    lines = [f"{'#':>2}  {'phase':<38} {'stage':<7} {'steps':>7} {'to':>7}  settings over the stage's defaults"]
    for i, row in enumerate(plan_table(recipe), 1):
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "-"
        to = row["stage_steps_after"] if row["stage_steps_after"] is not None else ""
        lines.append(f"{i:>2}  {row['phase']:<38} {row['stage']:<7} {row['steps']:>7,} {to:>7}  {settings}")
    totals = ", ".join(f"{stage} {steps:,}" for stage, steps in steps_per_stage(recipe).items())
    return "\n".join([*lines, f"steps per stage: {totals}", f"recipe sha256: {recipe_hash(recipe)[:16]}"])
