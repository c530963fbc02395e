"""One optimisation step per training stage: each stage's loss, with its constants named.

* ``ae``: :class:`AutoencoderStep`, ``MSE + 0.1 L1`` of the reconstruction (signed pixels);
* ``dit``: :class:`FlowStep`, caption-conditioned rectified flow (velocity MSE);
* ``warmup``: :class:`WarmupStep`, ``lambda R + MSE(y_tilde, E(x))`` in latent space;
* ``mse``: :class:`CodecStep`, ``lambda R + D`` with ``D = MSE + w (1 - MS-SSIM)``;
* ``stage1``: :class:`AlignedCodecStep`, ``+ L_distill + L_cond`` (paper eq. 9);
* ``stage2``: :class:`AdversarialStep`, ``+ L_adv`` with an adaptive weight, then a PatchGAN update.

Every step then makes the same update (:meth:`StageStep.__call__`): gradient clip, the main
optimiser, and the entropy bottleneck's quantile loss on its own optimiser (codec stages). A
stage's settings come from :class:`~ditic_lite.train_config.TrainArgs` and the model config
(:meth:`StageStep.settings`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from accelerate import Accelerator
from pytorch_msssim import ms_ssim

from .align import CaptionAlignment, self_distillation_loss
from .config import DiTICConfig
from .model import DiTIC
from .train_config import TrainArgs


def rate_bpp(likelihoods: dict[str, torch.Tensor], num_pixels: int) -> torch.Tensor:
    """Estimated bits per pixel: sum of -log2 p over y and z divided by the pixel count."""
    return sum(-torch.log2(l).sum() for l in likelihoods.values()) / num_pixels


def _psnr_signed(mse: torch.Tensor) -> float:
    """PSNR of an MSE measured on pixels in [-1, 1] (peak-to-peak 2)."""
    return float(10 * torch.log10(4.0 / mse.detach()))


class PatchDiscriminator(nn.Module):
    """A small 3-layer PatchGAN (stage 2's adversarial loss; hinge objective)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers, c = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2)], width
        for _ in range(2):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.GroupNorm(8, 2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class StageStep:
    """One optimisation step of a stage: :meth:`loss` (per stage), then the update they share.

    Made before the data loader from the model and the parameters the stage trains; then
    :meth:`prepare` hands the trained part (:attr:`trained_part`) and the optimiser to accelerate.
    ``extra`` holds the stage's own modules (caption alignment, discriminator), which DDP does not wrap.
    """

    trained_part: str | None = None  # model attribute accelerate wraps ("vae", "DiT"); None: the whole model
    trains_codec = True  # the entropy bottleneck's quantiles learn too, on their own optimiser
    quantile_lr = 1e-3
    clip_norm = 4.0  # gradient-norm clip of the main optimiser's parameters

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float) -> None:
        self.model = model
        self.extra = self.extra_modules(model.config)
        alignment = list(self.extra["align"].parameters()) if "align" in self.extra else []
        self.optimizer = torch.optim.AdamW(params + alignment, lr=lr, weight_decay=0.0)
        self.quantile_optimizer = None
        if self.trains_codec:
            quantiles = model.codec.entropy_bottleneck.quantiles
            self.quantile_optimizer = torch.optim.AdamW([quantiles], lr=self.quantile_lr)
            quantiles.requires_grad_(True)
        self.trained: nn.Module = model
        self.accelerator: Accelerator | None = None

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        """The keyword arguments of the stage's constructor, from the run's arguments and model config."""
        return {}

    @classmethod
    def extra_modules(cls, config: DiTICConfig) -> nn.ModuleDict:
        """The stage's modules besides the model (trained, saved in its state, never shipped)."""
        return nn.ModuleDict()

    def prepare(self, accelerator: Accelerator, loader: Any, channels_last: bool = False,
                compile: bool = False) -> Any:
        """Move everything to the accelerator's device and prepare the trained part, the main
        optimiser and ``loader`` (returned) with it, so that DDP syncs the trained gradients."""
        model = self.model.to(accelerator.device)
        trained = getattr(model, self.trained_part) if self.trained_part else model
        if channels_last:
            trained.to(memory_format=torch.channels_last)
        if compile:
            trained.compile()
        self.trained, self.optimizer, loader = accelerator.prepare(trained, self.optimizer, loader)
        self.extra.to(accelerator.device)
        self.accelerator = accelerator
        return loader

    def checkpointed(self) -> list[Any]:
        """What the accelerate state saves besides the model and the main optimiser, in order."""
        saved: list[Any] = [self.extra] if len(self.extra) else []
        return saved + ([self.quantile_optimizer] if self.quantile_optimizer is not None else [])

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The stage's loss on a batch ``x`` (images in [0, 1]) of photos ``idx``, and what it logs."""
        raise NotImplementedError

    def after_update(self, x: torch.Tensor) -> dict[str, float]:
        """A further update after the main one (stage 2: the discriminator's); returns its logs."""
        return {}

    def __call__(self, x: torch.Tensor, idx: torch.Tensor) -> dict[str, float]:
        """One step; returns the logged scalars."""
        loss, logs = self.loss(x, idx)
        accelerator = self.accelerator
        self.optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], self.clip_norm)
        if accelerator.num_processes > 1:  # the extra modules are not wrapped by DDP: average by hand
            for module in self.extra.values():
                for p in module.parameters():
                    if p.grad is not None:
                        p.grad = accelerator.reduce(p.grad, reduction="mean")
        self.optimizer.step()
        if self.quantile_optimizer is not None:
            self.quantile_optimizer.zero_grad(set_to_none=True)
            self.model.codec.aux_loss().backward()
            self.quantile_optimizer.step()
        logs.update(self.after_update(x))
        logs["loss"] = float(loss.detach())
        return logs


class AutoencoderStep(StageStep):
    """Stage ``ae``: the autoencoder reconstructs signed pixels; ``L = MSE + l1_weight * L1``."""

    trained_part = "vae"
    trains_codec = False
    l1_weight = 0.1

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        c = x * 2 - 1
        rec = self.trained(c).sample.float()  # the loss in fp32 under bf16 autocast
        mse = F.mse_loss(rec, c)
        return mse + self.l1_weight * F.l1_loss(rec, c), {"psnr": _psnr_signed(mse)}


class FlowStep(StageStep):
    """Stage ``dit``: caption-conditioned rectified flow on the autoencoder's latents.

    ``x_t = (1 - t) x0 + t * noise`` with velocity target ``noise - x0``; ``t`` drawn from a
    logit-normal (as in SANA / SD3) and shifted like the scheduler; captions dropped with
    probability ``caption_dropout`` for classifier-free guidance.
    """

    trained_part = "DiT"
    trains_codec = False
    timestep_shift = 3.0
    caption_dropout = 0.1

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, captions: torch.Tensor) -> None:
        super().__init__(model, params, lr)
        self.captions = captions

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(captions=captions)

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            latent = self.model.vae.encode(x * 2 - 1).latent * self.model.scaling_factor
        t = torch.sigmoid(torch.randn(latent.shape[0], device=latent.device))
        t = self.timestep_shift * t / (1 + (self.timestep_shift - 1) * t)
        noise = torch.randn_like(latent)
        tt = t.view(-1, 1, 1, 1)
        x_t = (1 - tt) * latent + tt * noise
        tokens = self.captions[idx.cpu()].to(latent.device)[:, None, :]
        drop = torch.rand(latent.shape[0], device=latent.device) < self.caption_dropout
        tokens = torch.where(drop.view(-1, 1, 1), torch.zeros_like(tokens), tokens)
        v = self.trained(x_t, encoder_hidden_states=tokens, timestep=t * 1000, return_dict=False)[0]
        loss = F.mse_loss(v, noise - latent)
        return loss, {"flow_mse": float(loss.detach())}


class WarmupStep(StageStep):
    """Stage ``warmup``: codec and auxiliary encoder in latent space, ``L = lambda R + MSE(y_tilde, E(x))``."""

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, lmbda: float) -> None:
        super().__init__(model, params, lr)
        self.lmbda = lmbda

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(lmbda=args.lmbda)

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.trained(x, decode=False)
        bpp = rate_bpp(out["likelihoods"], x.shape[0] * x.shape[2] * x.shape[3])
        latent_mse = F.mse_loss(out["mean"], out["latent"])
        logs = {"bpp": float(bpp.detach()), "latent_mse": float(latent_mse.detach())}
        return self.lmbda * bpp + latent_mse, logs


class CodecStep(StageStep):
    """Stage ``mse`` (the MSE baseline): ``L = lambda R + D``, ``D = MSE + ms_ssim_weight (1 - MS-SSIM)``."""

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, lmbda: float,
                 ms_ssim_weight: float) -> None:
        super().__init__(model, params, lr)
        self.lmbda, self.ms_ssim_weight = lmbda, ms_ssim_weight

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(lmbda=args.lmbda, ms_ssim_weight=args.ms_ssim_weight)

    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], dict[str, Any], torch.Tensor]:
        """``lambda R + D``, its logs, the model's outputs and ``D``."""
        out = self.trained(x)
        bpp = rate_bpp(out["likelihoods"], x.shape[0] * x.shape[2] * x.shape[3])
        xh = out["image"]
        mse = F.mse_loss(xh * 2 - 1, x * 2 - 1)
        msssim = ms_ssim(xh, x, data_range=1.0, size_average=True)
        distortion = mse + self.ms_ssim_weight * (1 - msssim)
        logs = {"bpp": float(bpp.detach()), "psnr": _psnr_signed(mse), "msssim": float(msssim.detach())}
        return self.lmbda * bpp + distortion, logs, out, distortion

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs, _, _ = self.rate_distortion(x)
        return loss, logs


class AlignedCodecStep(CodecStep):
    """Stage ``stage1``: the codec loss ``+ L_distill + L_cond`` (paper eq. 9; align.py).

    ``L_distill``: self-distillation of ``y_hat`` towards the encoder's latent (hinge margin
    ``distill_margin``); ``L_cond``: contrastive alignment of the prompter's tokens with the captions.
    """

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, lmbda: float,
                 ms_ssim_weight: float, captions: torch.Tensor, distill_margin: float, distill_weight: float,
                 contrastive_weight: float) -> None:
        super().__init__(model, params, lr, lmbda=lmbda, ms_ssim_weight=ms_ssim_weight)
        self.captions = captions
        self.distill_margin, self.distill_weight = distill_margin, distill_weight
        self.contrastive_weight = contrastive_weight

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        margin = config.align.distill_margin if args.distill_margin is None else args.distill_margin
        return dict(super().settings(args, config, captions), captions=captions, distill_margin=margin,
                    distill_weight=config.align.distill_weight, contrastive_weight=config.align.contrastive_weight)

    @classmethod
    def extra_modules(cls, config: DiTICConfig) -> nn.ModuleDict:
        return nn.ModuleDict({"align": CaptionAlignment(config.align.init_temperature)})

    def add_alignment(self, loss: torch.Tensor, logs: dict[str, float], out: dict[str, Any],
                      x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        l_sd = self_distillation_loss(out["y_hat"], out["latent"], self.distill_margin, self.distill_weight)
        loss = loss + l_sd
        logs["distill"] = float(l_sd.detach())
        l_cond = self.contrastive_weight * self.extra["align"](out["tokens"], self.captions[idx.cpu()].to(x.device))
        loss = loss + l_cond
        logs["cond"] = float(l_cond.detach())
        return loss

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs, out, _ = self.rate_distortion(x)
        return self.add_alignment(loss, logs, out, x, idx), logs


class AdversarialStep(AlignedCodecStep):
    """Stage ``stage2`` (per rate point): stage 1's loss ``+ d_weight * L_adv``, then a PatchGAN step.

    ``d_weight = adv_weight * |grad D| / |grad L_adv|`` at the residual head's last weight
    (SPEC 11, as in taming-transformers); the discriminator learns the hinge loss.
    """

    disc_lr = 2e-4
    disc_betas = (0.5, 0.9)

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, adv_weight: float,
                 **aligned: Any) -> None:
        super().__init__(model, params, lr, **aligned)
        self.adv_weight = adv_weight
        self.disc_optimizer = torch.optim.AdamW(self.extra["disc"].parameters(), lr=self.disc_lr, betas=self.disc_betas)
        self._generated: torch.Tensor | None = None  # this step's decoded images, for the discriminator

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(super().settings(args, config, captions), adv_weight=args.adv_weight)

    @classmethod
    def extra_modules(cls, config: DiTICConfig) -> nn.ModuleDict:
        modules = super().extra_modules(config)
        modules["disc"] = PatchDiscriminator()
        return modules

    def checkpointed(self) -> list[Any]:
        return [*super().checkpointed(), self.disc_optimizer]

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs, out, distortion = self.rate_distortion(x)
        loss = self.add_alignment(loss, logs, out, x, idx)
        xh = self._generated = out["image"]
        g_loss = -self.extra["disc"](xh).mean()
        last = self.model.codec.aux.block[3].weight  # SPEC 11: adaptive weight w.r.t. the residual head
        g_rec = torch.autograd.grad(distortion, last, retain_graph=True)[0]
        g_adv = torch.autograd.grad(g_loss, last, retain_graph=True)[0]
        d_weight = self.adv_weight * (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, 1e4).detach()
        logs["adv"] = float(g_loss.detach())
        return loss + d_weight * g_loss, logs

    def after_update(self, x: torch.Tensor) -> dict[str, float]:
        disc, fake, self._generated = self.extra["disc"], self._generated.detach(), None
        self.disc_optimizer.zero_grad(set_to_none=True)
        d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(fake)).mean()
        d_loss.backward()
        self.disc_optimizer.step()
        return {"disc": float(d_loss.detach())}


STAGE_STEPS: dict[str, type[StageStep]] = {
    "ae": AutoencoderStep, "dit": FlowStep, "warmup": WarmupStep,
    "stage1": AlignedCodecStep, "stage2": AdversarialStep, "mse": CodecStep,
}


def make_step(args: TrainArgs, model: DiTIC, params: list[nn.Parameter], captions: torch.Tensor | None) -> StageStep:
    """The step of ``args.stage`` with its settings from ``args`` and the model config."""
    step_class = STAGE_STEPS[args.stage]
    return step_class(model, params, args.lr, **step_class.settings(args, model.config, captions))


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
