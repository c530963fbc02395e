"""Stage ``tune``: DiT-IC's short pixel-space fine-tune of its DiT and decoder LoRA (the paper's
second stage), the codec frozen so that files keep their bytes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn

from ...align import self_distillation_loss
from ...config import DiTICConfig
from ...model import DiTIC
from ..adversarial import PatchDiscriminator, adaptive_weight, hinge_discriminator_loss, hinge_generator_loss
from ..config import ADVERSARIAL_WEIGHT, CodedCropsConfig, DISTILL_MARGIN, TrainArgs, setting
from ..runs import RunFolder
from ..step import AdversarialStep, code_as_file
from .autoencoder import AutoencoderStep, pixel_reconstruction_loss


@dataclass
class TuneConfig(CodedCropsConfig):
    """Stage ``tune``: DiT-IC's pixel-space tune of its DiT and decoder LoRA (codec frozen)."""

    stage: ClassVar[str] = "tune"
    steps: int = 2000
    batch_size: int = 2
    crop: int = 512
    lr: float = 1e-4
    ms_ssim_weight: float = setting(0.05, "weight of an (1 - MS-SSIM) term besides MSE + 0.1 L1 (0: off)")
    adversarial_weight: float = setting(ADVERSARIAL_WEIGHT, "weight of the patch discriminator's term, "
                                                            "on top of its adaptive weight (0: off)")
    distill_margin: float = setting(DISTILL_MARGIN, "margin m of L_distill = ReLU(1 - m - cos)")


def is_tuned(name: str) -> bool:
    """Whether the tune trains this parameter: a LoRA matrix of the DiT or of the decoder (the
    autoencoder's LoRA targets only the decoder)."""
    return "lora_" in name and name.startswith(("DiT.", "vae."))


class PixelTuneStep(AdversarialStep):
    """Stage ``tune`` (DiT-IC): the short pixel-space fine-tune of the decoder side, after ``codec``.

    Trains the DiT's LoRA and the decoder's LoRA of the finished DiT-IC codec on image crops; the
    latent codec and the prompter stay frozen, so every file keeps its bytes and only what it
    decodes to changes. Each step codes a crop as a file would (eval-mode rounding, a random rate
    point and step jitter), decodes it in one step and minimises

    ``L = MSE + 0.1 L1 + ms_ssim_weight (1 - MS-SSIM) + L_distill + w_adv * d * L_gen``

    with ``L_distill`` the codec stage's self-distillation, ``L_gen`` the hinge generator loss of
    a patch discriminator (:mod:`ditic_lite.training.adversarial`; SPEC section 11's second stage) and
    ``d`` its adaptive weight; the generator term waits ``adversarial_start`` steps of each run
    while the discriminator learns. ``adversarial_weight = 0`` tunes without a discriminator.
    One process (the step runs the whole model outside a DDP wrapper).
    """

    Config = TuneConfig
    upstream = ("ae", "dit", "codec")
    lora = True
    trains_codec = False
    uses_cache = False
    l1_weight = AutoencoderStep.l1_weight
    ms_ssim_window = AutoencoderStep.ms_ssim_window

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, rate_log_steps: torch.Tensor,
                 quant_jitter: float, ms_ssim_weight: float, adversarial_weight: float,
                 distill_margin: float, distill_weight: float) -> None:
        super().__init__(model, params, lr)
        self.rate_log_steps, self.quant_jitter = rate_log_steps, quant_jitter
        self.ms_ssim_weight, self.adversarial_weight = ms_ssim_weight, adversarial_weight
        self.distill_margin, self.distill_weight = distill_margin, distill_weight
        for frozen in (model.codec, model.prompter, model.aux_codec, model.vae.encoder):
            frozen.eval()  # the rounding and features of real files
        # made (and saved) whatever the weight, so that a run resumes with the term switched on or off
        self.extra["disc"] = PatchDiscriminator()
        self.init_discriminators(list(self.extra["disc"].parameters()), lr)

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(rate_log_steps=RunFolder(args.runs).rate_log_steps("codec"), quant_jitter=args.quant_jitter,
                    ms_ssim_weight=args.ms_ssim_weight, adversarial_weight=args.adversarial_weight,
                    distill_margin=args.distill_margin, distill_weight=config.align.distill_weight)

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        # the decoder side of DiT-IC; the codec stays frozen, so files keep their bytes
        for name, p in model.named_parameters():
            if is_tuned(name):
                p.requires_grad_(True)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x, _ = batch
        model = self.model
        codec_out, latent, r = code_as_file(model, x, self.rate_log_steps, self.quant_jitter)
        y_hat = model.reconstruct(codec_out, decode=False)["y_hat"]
        rec = model.vae.decode(y_hat / model.scaling_factor).sample.float()
        reconstruction, logs = pixel_reconstruction_loss(rec, x, self.l1_weight, self.ms_ssim_weight,
                                                         self.ms_ssim_window)
        logs["rate_point"] = float(r)
        l_sd = self_distillation_loss(y_hat, latent, self.distill_margin, self.distill_weight)
        logs["distill"] = float(l_sd.detach())
        loss = reconstruction + l_sd
        self.calls += 1
        if self.adversarial_weight:
            self._fake, self._real = rec.detach(), x * 2 - 1
            if self.calls > self.adversarial_start:
                disc = self.extra["disc"]
                disc.requires_grad_(False)
                generator = hinge_generator_loss(disc(rec))
                disc.requires_grad_(True)
                weight = self.adversarial_weight * adaptive_weight(reconstruction, generator, rec)
                loss = loss + weight * generator
                logs.update(gen=float(generator.detach()), adv_weight=float(weight))
        return loss, logs

    def discriminator_loss(self) -> torch.Tensor:
        disc = self.extra["disc"]
        return hinge_discriminator_loss(disc(self._real), disc(self._fake))
