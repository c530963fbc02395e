"""Stages ``mse`` and ``codec``: every rate point of one latent codec, in latent space (on the cache).

* ``mse``: :class:`LatentCodecStep`, ``lambda_r R + MSE(y_hat, E(x))``, every rate point ``r`` of
  one model (its learned per-channel steps in :class:`RateSteps`);
* ``codec``: :class:`AlignedLatentStep`, DiT-IC: the same through the one-step DiT,
  ``+ L_distill + L_cond`` (paper eq. 9, with the distortion measured against the frozen encoder's
  latent), and the kit's variance calibration of ``log_scale``
  (:func:`~ditic_lite.flow.variance_calibration_loss`).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...align import CaptionAlignment, self_distillation_loss
from ...config import DiTICConfig
from ...flow import variance_calibration_loss
from ...model import DiTIC
from ..config import CodedCropsConfig, DISTILL_MARGIN, RATE_LAMBDAS, TrainArgs, VARIANCE_WEIGHT, setting
from ..step import StageStep


@dataclass
class MSEConfig(CodedCropsConfig):
    """Stage ``mse``: the MSE baseline, every rate point of one codec, in latent space."""

    stage: ClassVar[str] = "mse"
    steps: int = 4000
    batch_size: int = 8
    crop: int = 16
    lr: float = 3e-4
    lambdas: tuple[float, ...] = setting(RATE_LAMBDAS, "rate weights of the rate points, lowest rate first")


@dataclass
class CodecConfig(MSEConfig):
    """Stage ``codec``: DiT-IC, the same codec through the one-step DiT with the alignment losses."""

    stage: ClassVar[str] = "codec"
    distill_margin: float = setting(DISTILL_MARGIN, "margin m of L_distill = ReLU(1 - m - cos)")
    variance_weight: float = setting(VARIANCE_WEIGHT, "weight of the variance calibration of log_scale (0: off)")


def rate_bpp(likelihoods: dict[str, torch.Tensor], num_pixels: int) -> torch.Tensor:
    """Estimated bits per pixel: sum of -log2 p over y and z divided by the pixel count."""
    return sum(-torch.log2(l).sum() for l in likelihoods.values()) / num_pixels


class RateSteps(nn.Module):
    """The learned per-channel log quantisation steps of every rate point (row r: rate point r).

    Trained with the codec; each row becomes the ``codec.log_step`` of one shipped rate point. The
    rows start a factor sqrt(2) apart, the coarsest (lowest rate) first.
    """

    def __init__(self, rates: int, channels: int) -> None:
        super().__init__()
        start = torch.tensor([0.5 * math.log(2.0) * ((rates - 1) / 2 - r) for r in range(rates)])
        self.log_steps = nn.Parameter(start[:, None].repeat(1, channels))


class LatentCodecStep(StageStep):
    """Stage ``mse`` (and the base of ``codec``): every rate point of one codec, in latent space.

    Each step draws a rate point ``r`` and a jitter ``u`` in ``+-quant_jitter``, codes y with the
    steps ``2**u * exp(log_steps[r])`` (:class:`RateSteps`) and minimises
    ``lambda_r * R + MSE(y_hat, E(x))``: ``y_hat`` is the latent the decoder would get (here the
    codec's mean plus its residual; through the one-step DiT in :class:`AlignedLatentStep`) and
    ``E(x)`` the frozen encoder's latent.
    """

    Config = MSEConfig
    upstream = ("ae",)
    uses_dit = False
    lora = True  # the layout DiT-IC's files have (the baseline's LoRA stays zero)

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, lambdas: tuple[float, ...],
                 quant_jitter: float) -> None:
        self.lambdas, self.quant_jitter = tuple(lambdas), quant_jitter
        self.rate_steps = RateSteps(len(self.lambdas), model.config.codec.y_channels)
        self.last_bpp = [float("nan")] * len(self.lambdas)  # each rate point's latest, for the logs
        super().__init__(model, params + list(self.rate_steps.parameters()), lr)
        self.extra["rate_steps"] = self.rate_steps

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        if not config.codec.channel_steps:
            raise ValueError("the latent-space codec stages train per-channel steps: the config needs "
                             "codec.channel_steps (the tiny preset has it)")
        return dict(lambdas=args.lambdas, quant_jitter=args.quant_jitter)

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        # the codec; the auxiliary encoder is frozen with the autoencoder's encoder (its features are
        # in the latent cache), the rate points' steps are the stage's (RateSteps), and the entropy
        # bottleneck's quantiles have their own optimiser
        model.codec.requires_grad_(True)
        if model.config.codec.channel_steps:
            model.codec.log_step.requires_grad_(False)
        model.codec.entropy_bottleneck.quantiles.requires_grad_(False)

    def ema_parameters(self) -> list[nn.Parameter]:
        return list(self.rate_steps.parameters())

    def exported(self) -> dict[str, torch.Tensor]:
        return {"rate_log_steps": self.rate_steps.log_steps.detach().clone()}

    @torch.no_grad()
    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        stored = tensors.get("rate_log_steps")
        if stored is None or stored.shape != self.rate_steps.log_steps.shape:
            raise ValueError("the stage's rate steps do not match its rate points: delete "
                             "runs/<stage>/stage.safetensors to start them afresh")
        self.rate_steps.log_steps.copy_(stored)

    def rate_distortion(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float], dict[str, Any]]:
        """``lambda_r R + D`` of a batch at a random rate point, its logs and the model's outputs."""
        latent, latent2, _ = batch
        r = random.randrange(len(self.lambdas))
        jitter = random.uniform(-self.quant_jitter, self.quant_jitter) * math.log(2.0)
        log_step = self.rate_steps.log_steps[r] + jitter
        out = self.trained(latents=(latent, latent2), decode=False, log_step=log_step)
        bpp = rate_bpp(out["likelihoods"], latent.shape[0] * latent.shape[2] * latent.shape[3] * 32 * 32)
        latent_mse = F.mse_loss(out["y_hat"], latent)
        self.last_bpp[r] = float(bpp.detach())
        logs = {"bpp": self.last_bpp[r], "latent_mse": float(latent_mse.detach()),
                **{f"bpp_r{i}": b for i, b in enumerate(self.last_bpp)}}
        return self.lambdas[r] * bpp + latent_mse, logs, out

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs, _ = self.rate_distortion(batch)
        return loss, logs


class AlignedLatentStep(LatentCodecStep):
    """Stage ``codec`` (DiT-IC): :class:`LatentCodecStep` through the one-step DiT, ``+ L_distill + L_cond``.

    ``L_distill``: self-distillation of ``y_hat`` towards the encoder's latent (hinge margin
    ``distill_margin``); ``L_cond``: contrastive alignment of the prompter's tokens with the captions;
    ``L_var`` (kit addition, ``variance_weight``; 0 = off): :func:`~ditic_lite.flow.variance_calibration_loss`
    of ``log_scale`` against the error of the DiT's starting latent.
    """

    Config = CodecConfig
    upstream = ("ae", "dit")
    uses_dit = True

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        # and the prompter and the DiT's LoRA (the decoder's LoRA needs pixels: not in latent space)
        super().trainable(model, args)
        model.prompter.requires_grad_(True)
        for name, p in model.DiT.named_parameters():
            if "lora_" in name:
                p.requires_grad_(True)

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, captions: torch.Tensor,
                 distill_margin: float, distill_weight: float, contrastive_weight: float,
                 variance_weight: float = 0.0, **codec: Any) -> None:
        super().__init__(model, params, lr, **codec)
        self.variance_weight = variance_weight
        self.captions = captions
        self.distill_margin, self.distill_weight = distill_margin, distill_weight
        self.contrastive_weight = contrastive_weight

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(super().settings(args, config, captions), captions=captions, distill_margin=args.distill_margin,
                    distill_weight=config.align.distill_weight, contrastive_weight=config.align.contrastive_weight,
                    variance_weight=args.variance_weight)

    @classmethod
    def extra_modules(cls, config: DiTICConfig) -> nn.ModuleDict:
        return nn.ModuleDict({"align": CaptionAlignment(config.align.init_temperature)})

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs, out = self.rate_distortion(batch)
        idx = batch[2]
        l_sd = self_distillation_loss(out["y_hat"], out["latent"], self.distill_margin, self.distill_weight)
        logs["distill"] = float(l_sd.detach())
        captions = self.captions[idx.cpu()].to(out["latent"].device)
        l_cond = self.contrastive_weight * self.extra["align"](out["tokens"], captions)
        logs["cond"] = float(l_cond.detach())
        loss = loss + l_sd + l_cond
        if self.variance_weight:
            start_error = out["latent"] - (out["mean"] + out["res"])
            l_var = self.variance_weight * variance_calibration_loss(out["log_scale"], start_error, self.model.config.flow)
            logs["variance"] = float(l_var.detach())
            loss = loss + l_var
        return loss, logs
