"""Training settings of the tiny tier, and the layout of a runs folder.

Where each hyperparameter lives (one place each):

* rate weights and the distillation margin of the kit's recipe: the constants below;
* per stage, steps / batch / crop / learning rate / lambda / bf16 / margin: :data:`STAGE_DEFAULTS`
  (``TrainArgs.for_stage`` applies them; the CLI, ``train all`` and the GPU recipe use it);
* settings shared by every stage (seed, EMA, MS-SSIM and adversarial weights, lr warm-up, saving,
  validation): the fields of :class:`TrainArgs`;
* constants of one stage's loss or optimisers (L1 weight, caption dropout, timestep shift,
  gradient clip, quantile and discriminator optimisers): that stage's class in
  :mod:`ditic_lite.train_stages`;
* weights of the alignment losses and the release's margin: the model config
  (:class:`ditic_lite.config.AlignConfig`, stored in ``config.json``);
* batches and time shares of the one-GPU recipe: :data:`ditic_lite.recipe.GPU_PLAN`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DiTICConfig, tiny_config

# lambda of each shipped rate point (rate weight in L = lambda * bpp + D + ...), lowest rate first.
# Stage 1 trains at the highest rate (smallest lambda); stage 2 "prunes" to each target
# (paper section 3.5: lambda_target >= lambda_base). D is MSE on [-1, 1] + 0.2 (1 - MS-SSIM),
# about 0.1 for the tiny model, so lambda * bpp must be of that order to move the rate: in our
# first run lambda 16 / 4 / 1 / 0.004 gave 0.031 / 0.039 / 0.044 / 0.049 bpp on the validation
# photos. A larger lambda does not reach lower: on 2026-11-30, 13 minutes of stage 2 at lambda 48
# kept rate 0 at 0.030 bpp and cost 0.8 dB (issue 14's notes), so the floor is elsewhere.
RATE_LAMBDAS = (16.0, 4.0, 1.0, 0.004)
LAMBDA_BASE = 0.004
# rate weight of the codec warm-up, whose distortion is the MSE of y_tilde against the unit-variance
# latent (train_stages.WarmupStep): it sets how many bits stage 1 starts from.
LAMBDA_WARMUP = 0.01
# margin m of the self-distillation loss ReLU(1 - m - cos) in the kit's training (align.py). The
# release's m = 0.5 never acts on the tiny model: on the validation photos cos(y_hat, E(x)) per
# latent position has quantiles 5/50/95 % = 0.77 / 0.92 / 0.98 (shipped rate 1, 2026-11-29), so
# 0.3 % of positions fall below 0.5 and the loss is ~1e-5. With m = 0.1 the hinge acts on the
# worst 40 % of positions (mean hinge 0.025 before the weight 0.05).
DISTILL_MARGIN = 0.1

DEFAULT_DATA = Path(os.environ.get("DITIC_TRAIN_DATA", "../shared/data/train"))

# bf16 autocast and channels_last where they pay (data/results/training_speed.csv, 2 cores):
# bf16 makes ae 1.16x and dit 1.9x faster; channels_last adds 1.08x on ae. The codec stages
# stay fp32: bf16 gains only 1.15-1.2x there (stage2 is slower), and stage 1 in bf16 turned
# every loss into NaN within 35 steps (2026-11-30). torch.compile is not used: it took ~6 min to
# compile ae for 1.13x and did not finish compiling stage 1 in 7 min.
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ae": dict(steps=2500, batch_size=8, crop=128, lr=5e-4, bf16=True, channels_last=True),
    "dit": dict(steps=1500, batch_size=16, crop=256, lr=5e-4, bf16=True),
    "warmup": dict(steps=3000, batch_size=8, crop=256, lr=5e-4, lmbda=LAMBDA_WARMUP),
    "stage1": dict(steps=1500, batch_size=4, crop=256, lr=2e-4, lmbda=LAMBDA_BASE, distill_margin=DISTILL_MARGIN),
    "stage2": dict(steps=300, batch_size=4, crop=256, lr=2e-4, lmbda=RATE_LAMBDAS[1], distill_margin=DISTILL_MARGIN),
    "mse": dict(steps=300, batch_size=4, crop=256, lr=2e-4, lmbda=RATE_LAMBDAS[1]),
}
RATE_STAGES = ("stage2", "mse")  # trained once per rate point, into runs/<stage>_r<rate_id>


@dataclass
class TrainArgs:
    """Everything one training run needs; ``TrainArgs.for_stage`` starts from the stage's defaults.

    The defaults of ``steps``, ``batch_size``, ``crop``, ``lr``, ``lmbda`` and ``bf16`` below
    only apply to a ``TrainArgs`` built field by field (tests); :data:`STAGE_DEFAULTS` holds the
    real ones.
    """

    stage: str
    data: Path = DEFAULT_DATA
    runs: Path = Path("runs")
    steps: int = 1000
    batch_size: int = 8
    crop: int = 256
    lr: float = 2e-4
    lmbda: float = RATE_LAMBDAS[1]
    rate_id: int = 0
    seed: int = 0
    ema_decay: float = 0.995
    ms_ssim_weight: float = 0.2
    adv_weight: float = 0.5
    max_minutes: float = 1e9
    save_every: int = 200
    save_minutes: float = 3.0
    validate_minutes: float = 5.0
    warmup_steps: int = 100
    colour_augment: bool = False
    distill_margin: float | None = None  # None: the model config's (the release's 0.5)
    bf16: bool = False
    channels_last: bool = False  # NHWC memory layout of the trained convolutions and the batch
    compile: bool = False  # torch.compile the trained module (inductor; the first steps compile)
    freeze_encoder: bool = False
    export: bool = True
    cpu: bool = False
    preset: str = "tiny"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_stage(cls, stage: str, **settings: Any) -> "TrainArgs":
        """The stage's :data:`STAGE_DEFAULTS`, replaced by ``settings`` where given."""
        return cls(stage=stage, **{**STAGE_DEFAULTS.get(stage, {}), **settings})

    @property
    def run_dir(self) -> Path:
        suffix = f"_r{self.rate_id}" if self.stage in RATE_STAGES else ""
        return self.runs / f"{self.stage}{suffix}"


def run_weights(runs: Path, stage: str) -> Path:
    """The weights a stage (or ``<stage>_r<rate>``) of a runs folder wrote last."""
    return runs / stage / "model.safetensors"


def run_config(runs: Path) -> DiTICConfig:
    """The model config of a runs folder (its ``config.json``; the tiny preset before the autoencoder)."""
    path = runs / "config.json"
    return DiTICConfig.load(path) if path.exists() else tiny_config()
