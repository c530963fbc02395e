"""Training settings of the tiny tier, and the layout of a runs folder.

Where each hyperparameter lives (one place each):

* rate weights and the distillation margin of the kit's recipe: the constants below;
* per stage, steps / batch / crop / learning rate / bf16 / margin: :data:`STAGE_DEFAULTS`
  (``TrainArgs.for_stage`` applies them; the CLI, ``train all`` and the GPU recipe use it);
* settings shared by every stage (seed, EMA, lr warm-up, saving, validation, the rate points'
  lambdas and the step jitter): the fields of :class:`TrainArgs`;
* constants of one stage's loss or optimisers (L1 weight, caption dropout, timestep shift,
  gradient clip, quantile optimiser): that stage's class in :mod:`ditic_lite.train_stages`;
* the latent cache (scales, crop alignment, encoder digest): :mod:`ditic_lite.latent_cache`;
* weights of the alignment losses and the release's margin: the model config
  (:class:`ditic_lite.config.AlignConfig`, stored in ``config.json``);
* the adversarial weight of the pixel-space tune: :data:`ADVERSARIAL_WEIGHT`;
* batches and time shares of the one-GPU recipe: :data:`ditic_lite.recipe.GPU_PLAN`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DiTICConfig, tiny_config

# lambda of each rate point (rate weight in L = lambda * bpp + D + ...), lowest rate first. The third
# tiny tier trains every rate point in ONE model, in latent space: each step draws a rate point, codes
# y with that point's learned per-channel steps (latent_codec.py, ``channel_steps``) and weighs the
# rate with its lambda. D is the MSE of the decoded latent against the frozen encoder's (unit
# variance). The scale, estimated: one latent value covers 32 pixels, so 1 bpp is 32 bits per
# latent value and 0.05 bpp is 1.6; a Gaussian source at D ~ 0.05 loses dD/dR = 2 ln2 D ~ 0.07 per
# bit per value, i.e. ~2.2 per bpp. Measured (2026-12-03): lambdas 8 / 4 / 2 / 1 gave only 0.015-0.034
# bpp on training crops after ~900 steps, so the shipped run went on at half of them, which reached
# 0.017-0.043 bpp on the validation photos; the quantisation-step lever covers the rates above.
RATE_LAMBDAS = (4.0, 2.0, 1.0, 0.5)
# the quantisation step of a training step is the rate point's times 2**u, u uniform in
# +-QUANT_JITTER: the codec learns to decode between and around its rate points, so the step
# lever of the file header moves quality smoothly (notebook 04's slider)
QUANT_JITTER = 0.5
# margin m of the self-distillation loss ReLU(1 - m - cos) in the kit's training (align.py). The
# release's m = 0.5 never acts on the tiny model, and neither did m = 0.1 on the third tier: on the
# validation photos cos(y_hat, E(x)) per latent position has quantiles 5/25/50/95 % = 0.915 /
# 0.962 / 0.982 / 0.998 (shipped rate 2, 2026-12-03), so under 5 % of positions fell below 0.9
# (the alignment ablation found no difference). m = 0.04 acts on the worst ~25 %.
DISTILL_MARGIN = 0.04
# weight of the variance calibration of the codec stage (flow.variance_calibration_loss): how well
# ``log_scale`` ranks the error of the DiT's starting latent, so that the pseudo-timestep map is
# high where the coarse latent is wrong. Its gradient per element is O(1/N), like the latent
# MSE's; 0 trains as the release does.
VARIANCE_WEIGHT = 0.05

# weight of the adversarial term of the pixel-space tune (train_stages.PixelTuneStep) on top of its
# adaptive weight |grad L_rec| / |grad L_gen|: the release's 0.5 (SPEC section 11). Measured
# (2026-12-04, 6 validation photos, two 100-minute one-thread tunes of the same codec): with the
# term (2,653 steps, 0.1 for the first 584) fine-detail retention rose 12 % over the untuned
# model, without it (3,832 steps) 6 %; PSNR +0.055 / +0.063 dB, MS-SSIM +0.0016 / +0.0021
ADVERSARIAL_WEIGHT = 0.5
# fixed (not adaptive) weight of the adversarial and feature-matching terms of the realism
# decoder's texture head (stage ``realism``, train_realism.py); the trade-off's sweep is in
# data/results/realism_tradeoff.csv
REALISM_ADVERSARIAL_WEIGHT = 0.01

DEFAULT_DATA = Path(os.environ.get("DITIC_TRAIN_DATA", "../shared/data/train"))

# ``crop`` is in image pixels for ``ae`` and in latent pixels (1/32) for the stages that train on
# the latent cache (``dit``, ``codec``, ``mse``: 16 = a 512-px crop, an 8x8 y grid).
# bf16 autocast and channels_last where they pay (data/results/training_speed.csv, 2 cores):
# bf16 makes ae 1.16x and dit 1.9x faster; channels_last adds 1.08x on ae. The codec stages
# stay fp32: in pixel space bf16 gained only 1.15-1.2x there, and stage 1 in bf16 turned every
# loss into NaN within 35 steps (2026-11-30). torch.compile is not used: it took ~6 min to
# compile ae for 1.13x.
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ae": dict(steps=2500, batch_size=8, crop=128, lr=5e-4, bf16=True, channels_last=True),
    "dit": dict(steps=1500, batch_size=16, crop=16, lr=5e-4, bf16=True),
    "codec": dict(steps=4000, batch_size=8, crop=16, lr=3e-4, distill_margin=DISTILL_MARGIN,
                  variance_weight=VARIANCE_WEIGHT),
    "mse": dict(steps=4000, batch_size=8, crop=16, lr=3e-4),
    "tune": dict(steps=2000, batch_size=2, crop=512, lr=1e-4, ms_ssim_weight=0.05,
                 adversarial_weight=ADVERSARIAL_WEIGHT, distill_margin=DISTILL_MARGIN),
    # the realism decoder's texture head (train_realism.py): a FIXED adversarial weight
    "realism": dict(steps=4000, batch_size=4, crop=256, lr=2e-4, adversarial_weight=REALISM_ADVERSARIAL_WEIGHT,
                    feature_weight=1.0, mse_weight=0.25),
}
CACHED_STAGES = ("dit", "codec", "mse")  # trained on runs/cache (latent_cache.py), not on pixels


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
    lambdas: tuple[float, ...] = RATE_LAMBDAS
    quant_jitter: float = QUANT_JITTER
    seed: int = 0
    ema_decay: float = 0.995
    max_minutes: float = 1e9
    save_every: int = 200
    save_minutes: float = 3.0
    validate_minutes: float = 5.0
    warmup_steps: int = 100
    colour_augment: bool = False
    distill_margin: float | None = None  # None: the model config's (the release's 0.5)
    variance_weight: float = 0.0  # codec: weight of flow.variance_calibration_loss (0: off, as the release)
    ms_ssim_weight: float = 0.0  # ae: weight of (1 - MS-SSIM) besides MSE + L1 (0: off)
    decoded_share: float = 0.0  # ae: share of batches decoded from a trained codec's y_hat (0: exact latents only)
    adversarial_weight: float = 0.0  # tune, realism: weight of the patch discriminator's term (0: off)
    feature_weight: float = 1.0  # realism: feature matching, relative to the generator term
    mse_weight: float = 0.25  # realism: full-resolution MSE besides the low-pass one
    energy_weight: float = 0.0  # realism: match the original's fine-detail energy block by block (0: off)
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
        return self.runs / self.stage

    @property
    def cache(self) -> Path:
        """The latent cache of the runs folder (``ditic-lite train cache`` writes it)."""
        return self.runs / "cache"


def run_weights(runs: Path, stage: str) -> Path:
    """The weights a stage (or ``<stage>_r<rate>``) of a runs folder wrote last."""
    return runs / stage / "model.safetensors"


def run_config(runs: Path) -> DiTICConfig:
    """The model config of a runs folder (its ``config.json``; the tiny preset before the autoencoder)."""
    path = runs / "config.json"
    return DiTICConfig.load(path) if path.exists() else tiny_config()
