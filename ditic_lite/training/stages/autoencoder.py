"""Stage ``ae``: the autoencoder (AutoencoderDC with a space-to-depth stem) reconstructs signed
pixels, ``MSE + 0.1 L1`` (+ MS-SSIM); its decoder alone once the latent cache froze the encoder,
and at the end its fine-tune on what files decode to. Its config, its step, and the measures it
takes of the autoencoder (held-out quality, the latents' scaling factor)."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from accelerate import Accelerator
from pytorch_msssim import ms_ssim

from ...config import DiTICConfig
from ...model import DiTIC
from ..config import CodedCropsConfig, TrainArgs, setting
from ..runs import RunFolder
from ..step import StageStep


@dataclass
class AutoencoderConfig(CodedCropsConfig):
    """Stage ``ae``: the autoencoder (its decoder alone once the latent cache froze the encoder)."""

    stage: ClassVar[str] = "ae"
    steps: int = 2500
    batch_size: int = 8
    crop: int = 128
    lr: float = 2e-4
    bf16: bool = True
    channels_last: bool = True
    ms_ssim_weight: float = setting(0.0, "weight of an (1 - MS-SSIM) term besides MSE + 0.1 L1 (0: off)")
    decoded_share: float = setting(0.0, "share of batches the decoder learns from the trained codecs' decoded "
                                        "latents (fine-tune on what files decode to; 0: exact latents only)")
    freeze_encoder: bool = setting(False, "train only the decoder (always so once the latent cache froze the encoder)")


def _psnr_signed(mse: torch.Tensor) -> float:
    """PSNR of an MSE measured on pixels in [-1, 1] (peak-to-peak 2)."""
    return float(10 * torch.log10(4.0 / mse.detach()))


def pixel_reconstruction_loss(rec: torch.Tensor, x: torch.Tensor, l1_weight: float, ms_ssim_weight: float,
                              ms_ssim_window: int) -> tuple[torch.Tensor, dict[str, float]]:
    """``MSE + l1_weight L1 + ms_ssim_weight (1 - MS-SSIM)`` of a decoded image ``rec`` (signed
    pixels) against ``x`` in [0, 1], and its logs (PSNR, MS-SSIM). The MS-SSIM term is computed
    in fp32 on the clamped image, as the decoded file is: under bf16 autocast the local variances
    E[x^2] - E[x]^2 cancel, a scale's SSIM turns <= 0 and the gradient of its power is NaN."""
    c = x * 2 - 1
    mse = F.mse_loss(rec, c)
    loss, logs = mse + l1_weight * F.l1_loss(rec, c), {"psnr": _psnr_signed(mse)}
    if ms_ssim_weight:
        with torch.autocast(x.device.type, enabled=False):
            score = ms_ssim(((rec + 1) / 2).clamp(0, 1), x.float(), data_range=1.0, win_size=ms_ssim_window)
        loss = loss + ms_ssim_weight * (1 - score)
        logs["ms_ssim"] = float(score.detach())
    return loss, logs


class AutoencoderStep(StageStep):
    """Stage ``ae``: the autoencoder reconstructs signed pixels;
    ``L = MSE + l1_weight * L1 + ms_ssim_weight * (1 - MS-SSIM)``.

    Two kit additions, both off by default:

    * ``ms_ssim_weight``: the MS-SSIM term, with a 7x7 window so that its five scales fit a
      128-px crop (pytorch-msssim needs a side > 16 * (window - 1));
    * ``decoded_share``: the share of batches the decoder reconstructs from a trained codec's
      decoded latent ``y_hat`` instead of the encoder's exact one (the pixel-space fine-tune of
      issue 20). Each such batch draws one of ``codecs`` (DiT-IC and the MSE baseline of the runs
      folder, frozen, eval mode: the rounding of real files), a rate point and a step jitter as
      their training does. Needs the frozen encoder, one process and crops of >= 256 px.
    """

    Config = AutoencoderConfig
    trained_part = "vae"
    trains_codec = False
    uses_cache = False
    l1_weight = 0.1
    ms_ssim_window = 7

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, ms_ssim_weight: float = 0.0,
                 decoded_share: float = 0.0, codecs: list[tuple[DiTIC, torch.Tensor]] | None = None,
                 quant_jitter: float = 0.0) -> None:
        super().__init__(model, params, lr)
        self.ms_ssim_weight, self.decoded_share, self.quant_jitter = ms_ssim_weight, decoded_share, quant_jitter
        self.codecs = list(codecs or [])  # (model, log-steps of its rate points)
        if decoded_share and not self.codecs:
            raise ValueError("--decoded-share needs trained codecs (runs/codec, runs/mse) to decode with")

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        codecs = RunFolder(args.runs).trained_codecs() if args.decoded_share else []
        if codecs and not args.freeze_encoder:
            raise ValueError("--decoded-share trains the decoder alone: it needs the frozen encoder (train cache)")
        return dict(ms_ssim_weight=args.ms_ssim_weight, decoded_share=args.decoded_share, codecs=codecs,
                    quant_jitter=args.quant_jitter)

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        (model.vae.decoder if args.freeze_encoder else model.vae).requires_grad_(True)

    def prepare(self, accelerator: Accelerator, loader: Any, channels_last: bool = False,
                compile: bool = False) -> Any:
        if self.codecs and accelerator.num_processes > 1:  # decoding bypasses the DDP wrapper's forward
            raise ValueError("--decoded-share trains on one process")
        for codec, _ in self.codecs:
            codec.to(accelerator.device)
        return super().prepare(accelerator, loader, channels_last=channels_last, compile=compile)

    @torch.no_grad()
    def decoded_latent(self, x: torch.Tensor) -> torch.Tensor:
        """A random trained codec's ``y_hat`` of ``x`` in [0, 1] at a random rate point, unscaled
        for the decoder; fp32 whatever the autocast, as when a file is decoded."""
        codec, log_steps = random.choice(self.codecs)
        jitter = random.uniform(-self.quant_jitter, self.quant_jitter) * math.log(2.0)
        with torch.autocast(x.device.type, enabled=False):
            out = codec(x.float(), decode=False, log_step=log_steps[random.randrange(len(log_steps))] + jitter)
        return out["y_hat"] / codec.scaling_factor

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x, _ = batch
        c = x * 2 - 1
        if self.codecs and random.random() < self.decoded_share:
            rec = self.trained.decode(self.decoded_latent(x)).sample.float()
        else:
            rec = self.trained(c).sample.float()  # the loss in fp32 under bf16 autocast
        return pixel_reconstruction_loss(rec, x, self.l1_weight, self.ms_ssim_weight, self.ms_ssim_window)


# ------------------------------------------------------------------------------------- autoencoder
@torch.no_grad()
def validate_autoencoder(model: DiTIC, images: list[torch.Tensor]) -> dict[str, float]:
    """Exact-latent quality (encode, decode, 8-bit output) on held-out photos: mean PSNR, MS-SSIM."""
    scores = []
    device = next(model.parameters()).device
    for x in images:
        x = x.to(device)
        rec = model.vae(x * 2 - 1).sample.float().clamp(-1, 1) * 0.5 + 0.5
        rec = torch.round(rec * 255) / 255
        mse = F.mse_loss(rec, x)
        scores.append((float(10 * torch.log10(1 / mse)), float(ms_ssim(rec, x, data_range=1.0))))
    psnr, msssim = np.mean(scores, axis=0)
    return {"val_psnr": float(psnr), "val_ms_ssim": float(msssim)}


@torch.no_grad()
def measure_scaling_factor(model: DiTIC, images: list[torch.Tensor], crop: int = 256) -> float:
    """1 / std of the latents over centre crops (how SANA's DC-AE got 0.41407)."""
    latents = []
    for im in images[:32]:
        _, h, w = im.shape
        top, left = (h - crop) // 2, (w - crop) // 2
        x = im[None, :, top:top + crop, left:left + crop].float() / 255.0
        latents.append(model.vae.encode(x * 2 - 1).latent)
    return float(1.0 / torch.cat(latents).std())
