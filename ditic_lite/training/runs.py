"""A runs folder as one object: where each stage keeps its weights, state and record.

::

    runs/
      config.json               the model config (the autoencoder's scaling factor is measured into it)
      captions.safetensors      the caption embeddings of the training photos
      cache/                    the latent cache and the frozen encoder (encoder.safetensors)
      <stage>/model.safetensors the stage's EMA weights (the whole model state)
      <stage>/stage.safetensors the stage's own tensors (the rate points' steps, the texture head)
      <stage>/progress.json     steps, minutes and the loss history, over every run of the stage
      <stage>/summary.json      the record of its last run (what the model cards hold)
      <stage>/state/            the accelerate state a resumed run loads

Training (:mod:`.loop`), export (:mod:`.export`) and the tools all go through :class:`RunFolder`,
so these names are written here only.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..checkpoints import load_into, read_safetensors
from ..config import DiTICConfig, tiny_config
from ..model import DiTIC
from .latent_cache import ENCODER_FILE, INDEX_FILE


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


CODEC_STAGES = (("tiny", "codec", True), ("mse", "mse", False))  # shipped model name, its stage, DiT step


@dataclass(frozen=True)
class RunFolder:
    """The runs folder ``root`` (see the module docstring for its layout)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # ------------------------------------------------------------------ paths
    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def captions_file(self) -> Path:
        return self.root / "captions.safetensors"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def frozen_encoder(self) -> Path:
        """The frozen encoder, written with the latent cache (and by :func:`.export.seed_runs`)."""
        return self.cache / ENCODER_FILE

    @property
    def cache_index(self) -> Path:
        return self.cache / INDEX_FILE

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def weights(self, stage: str) -> Path:
        """The weights a stage wrote last (the whole model state, EMA)."""
        return self.root / stage / "model.safetensors"

    def own_tensors(self, stage: str) -> Path:
        """The stage's own tensors beside the model (rate points' steps, the texture head)."""
        return self.root / stage / "stage.safetensors"

    def progress_file(self, stage: str) -> Path:
        return self.root / stage / "progress.json"

    def summary_file(self, stage: str) -> Path:
        return self.root / stage / "summary.json"

    def state_dir(self, stage: str) -> Path:
        return self.root / stage / "state"

    # ------------------------------------------------------------------ records
    def progress(self, stage: str) -> dict[str, Any]:
        """Steps, minutes, history and runs of a stage so far (``{}`` before its first save)."""
        path = self.progress_file(stage)
        return json.loads(path.read_text()) if path.exists() else {}

    def step(self, stage: str) -> int:
        """How many steps the stage has made (0 if none)."""
        return int(self.progress(stage).get("step", 0))

    def summary(self, stage: str) -> dict[str, Any]:
        """The record of the stage's last finished run: what its exported weights are."""
        return json.loads(self.summary_file(stage).read_text())

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Every stage's last-run record, by stage."""
        return {p.parent.name: json.loads(p.read_text()) for p in sorted(self.root.glob("*/summary.json"))}

    def codec_step(self) -> int | None:
        """The step of ``codec`` now (a pixel-space stage records the codec it trained on; export checks it)."""
        return self.progress("codec").get("step")

    def config(self) -> DiTICConfig:
        """The model config (the tiny preset before the autoencoder has written one)."""
        return DiTICConfig.load(self.config_file) if self.config_file.exists() else tiny_config()

    # ------------------------------------------------------------------ models
    def rate_log_steps(self, stage: str = "codec") -> torch.Tensor:
        """The learned steps of every rate point of a codec stage (row r: rate point r)."""
        path = self.own_tensors(stage)
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: train the {stage} stage first "
                                    "(ditic-lite train codec, or --from-shipped)")
        return read_safetensors(path)["rate_log_steps"]

    def model(self, stage: str, use_dit: bool = True) -> DiTIC:
        """A finished stage as a model with LoRA (all its weights), entropy tables computed, eval mode."""
        path = self.weights(stage)
        model = DiTIC(self.config(), use_dit=use_dit)
        model.add_lora()
        load_into(model, read_safetensors(path), source=str(path))
        model.codec.update(force=True)
        return model.eval()

    def codec(self, stage: str, rate: int, use_dit: bool = True) -> DiTIC:
        """The codec of ``stage`` at rate point ``rate``: its model with that rate point's steps."""
        model = self.model(stage, use_dit=use_dit)
        model.codec.log_step.data.copy_(self.rate_log_steps(stage)[rate])
        return model

    def trained_codecs(self) -> list[tuple[DiTIC, torch.Tensor]]:
        """Every trained codec stage (DiT-IC, the MSE baseline) as a frozen eval-mode model with its
        rate points' steps."""
        return [(self.model(stage, use_dit=use_dit).requires_grad_(False), self.rate_log_steps(stage))
                for _, stage, use_dit in CODEC_STAGES if self.weights(stage).exists()]
