"""The training stages, one module each: its config (a dataclass with the real defaults) and its
step (what it starts from, what it trains, its loss, what it records).

* ``ae``: :mod:`.autoencoder`; ``dit``: :mod:`.base_dit`; ``mse``, ``codec``: :mod:`.codec`;
  ``tune``: :mod:`.tune`; ``realism``: :mod:`.realism`.

A batch is ``(images, photo indexes)`` for the stages on pixels and ``(latent, latent2, caption
indexes)`` for those on the latent cache (:mod:`ditic_lite.training.latent_cache`). Every step makes
the same update (:meth:`~ditic_lite.training.step.StageStep.__call__`). Adding a setting to a stage
is one field of its config and its use in its step, in the stage's module; ``ditic-lite train``
gets the option from the field.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...model import DiTIC
from ..config import TrainArgs
from ..step import StageStep
from .autoencoder import AutoencoderConfig, AutoencoderStep
from .base_dit import FlowConfig, FlowStep
from .codec import AlignedLatentStep, CodecConfig, LatentCodecStep, MSEConfig
from .realism import RealismConfig, RealismStep
from .tune import PixelTuneStep, TuneConfig, is_tuned

STAGE_STEPS: dict[str, type[StageStep]] = {step.Config.stage: step for step in (
    AutoencoderStep, FlowStep, AlignedLatentStep, LatentCodecStep, PixelTuneStep, RealismStep)}
STAGE_CONFIGS: dict[str, type[TrainArgs]] = {stage: step.Config for stage, step in STAGE_STEPS.items()}

__all__ = ["STAGE_STEPS", "STAGE_CONFIGS", "stage_config", "make_step", "is_tuned",
           "AutoencoderConfig", "AutoencoderStep", "FlowConfig", "FlowStep", "MSEConfig", "LatentCodecStep",
           "CodecConfig", "AlignedLatentStep", "TuneConfig", "PixelTuneStep", "RealismConfig", "RealismStep"]


def stage_config(stage: str, **settings: Any) -> TrainArgs:
    """The config of ``stage`` with its real defaults, replaced by ``settings`` where given."""
    if stage not in STAGE_CONFIGS:
        raise ValueError(f"unknown stage {stage!r}; choose from {sorted(STAGE_CONFIGS)}")
    config = STAGE_CONFIGS[stage]
    unknown = set(settings) - set(config.__dataclass_fields__)
    if unknown:
        raise ValueError(f"stage {stage} has no setting {', '.join(sorted(unknown))}")
    return config(**settings)


def make_step(args: TrainArgs, model: DiTIC, params: list[nn.Parameter], captions: torch.Tensor | None) -> StageStep:
    """The step of ``args.stage`` with its settings from ``args`` and the model config."""
    step_class = STAGE_STEPS[args.stage]
    return step_class(model, params, args.lr, **step_class.settings(args, model.config, captions))
