"""Training settings of the tiny tier: the settings every stage has, and the constants the stages'
defaults come from, each with what measured it.

Where each setting lives (one place each):

* every setting a stage run takes: a field of that stage's config, a dataclass beside its step
  in :mod:`.stages` (:class:`TrainArgs` below holds the fields every stage has); ``ditic-lite
  train`` builds its options from these fields and their help texts (:mod:`.cli`), so a new
  setting is one field and its use, both in the stage's module;
* the constants the defaults come from: just below;
* what the shipped checkpoints were trained with, phase by phase: :mod:`.recipe`;
* constants of one stage's loss or optimisers (L1 weight, caption dropout, timestep shift,
  gradient clip, quantile optimiser): that stage's class;
* the latent cache (scales, crop alignment, encoder digest): :mod:`.latent_cache`;
* weights of the alignment losses and the release's margin: the model config
  (:class:`ditic_lite.config.AlignConfig`, stored in ``config.json``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


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

# weight of the adversarial term of the pixel-space tune (training/stages/tune.py) on top of its
# adaptive weight |grad L_rec| / |grad L_gen|: the release's 0.5 (SPEC section 11). Measured
# (2026-12-04, 6 validation photos, two 100-minute one-thread tunes of the same codec): with the
# term (2,653 steps, 0.1 for the first 584) fine-detail retention rose 12 % over the untuned
# model, without it (3,832 steps) 6 %; PSNR +0.055 / +0.063 dB, MS-SSIM +0.0016 / +0.0021
ADVERSARIAL_WEIGHT = 0.5
# fixed (not adaptive) weight of the adversarial and feature-matching terms of the realism
# decoder's texture head (stage ``realism``, training/stages/realism.py); the trade-off's sweep is in
# data/results/realism_tradeoff.csv
REALISM_ADVERSARIAL_WEIGHT = 0.01

DEFAULT_DATA = Path(os.environ.get("DITIC_TRAIN_DATA", "../shared/data/train"))


def setting(default: Any, help: str, *, run: bool = False) -> Any:
    """A config field with its help text (the CLI's). ``run``: how a run goes (where, how long,
    how often it saves), not what it trains: not recorded among the stage's settings."""
    return field(default=default, metadata={"help": help, "run": run})


# ``crop`` is in image pixels for the stages on pixels and in latent pixels (1/32) for the stages
# that train on the latent cache (``dit``, ``codec``, ``mse``: 16 = a 512-px crop, an 8x8 y grid).
# bf16 autocast and channels_last where they pay (data/results/training_speed.csv, 2 cores):
# bf16 makes ae 1.16x and dit 1.9x faster; channels_last adds 1.08x on ae. The codec stages
# stay fp32: in pixel space bf16 gained only 1.15-1.2x there, and stage 1 in bf16 turned every
# loss into NaN within 35 steps (2026-11-30). torch.compile is not used: it took ~6 min to
# compile ae for 1.13x.
@dataclass
class TrainArgs:
    """The settings every stage has; each stage's config (below) adds its own and sets the real
    defaults (a field redefined there keeps the help text of this one). Make one with
    :func:`ditic_lite.training.stages.stage_config` (or the stage's config class)."""

    stage: ClassVar[str] = ""
    data: Path = setting(DEFAULT_DATA, "folder with captions.csv and the photos", run=True)
    runs: Path = setting(Path("runs"), "runs folder: run states and stage weights", run=True)
    steps: int = setting(1000, "train until the stage has made this many steps in all (resumable)", run=True)
    batch_size: int = setting(8, "crops per step")
    crop: int = setting(256, "crop side: image pixels, or latent pixels (1/32) for the stages on the latent cache")
    lr: float = setting(2e-4, "learning rate (a resumed run trains at the one given now: lowering it anneals)")
    seed: int = setting(0, "seed of everything random", run=True)
    ema_decay: float = setting(0.995, "decay of the exported EMA of the trained weights")
    warmup_steps: int = setting(100, "a fresh run ramps its learning rate up over these steps")
    bf16: bool = setting(False, "bf16 autocast of the forward pass (fp32 master weights)")
    channels_last: bool = setting(False, "NHWC memory layout (data/results/training_speed.csv says what pays)")
    compile: bool = setting(False, "torch.compile the trained module (the first steps compile)")
    colour_augment: bool = setting(False, "random RGB channel permutations of image crops (more hues from few photos)")
    max_minutes: float = setting(1e9, "stop (resumably) after this many minutes", run=True)
    save_every: int = setting(200, "save the training state every this many steps", run=True)
    save_minutes: float = setting(3.0, "and at least this often (minutes)", run=True)
    validate_minutes: float = setting(5.0, "ae: measure the held-out photos this often (minutes; 0: never)", run=True)
    cpu: bool = setting(False, "train on the CPU even if a GPU is present", run=True)


    def trained_settings(self) -> dict[str, Any]:
        """What the run trains with (every field but where and how long): recorded in each run's record."""
        how = {f.name for f in fields(TrainArgs) if f.metadata["run"]}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in how}

    def as_record(self) -> dict[str, Any]:
        """Every field and the stage, JSON-ready (the summary's ``args``)."""
        return {"stage": self.stage, **{f.name: str(v) if isinstance(v, Path) else v
                                        for f in fields(self) for v in [getattr(self, f.name)]}}


@dataclass
class CodedCropsConfig(TrainArgs):
    """The settings of the stages that code crops at a random rate point (as files are, or in latent space)."""

    quant_jitter: float = setting(QUANT_JITTER, "+- octaves of random quantisation step around the rate point's")
