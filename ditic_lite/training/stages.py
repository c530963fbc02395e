"""One optimisation step per training stage: each stage's loss, with its constants named.

* ``ae``: :class:`AutoencoderStep`, ``MSE + 0.1 L1`` of the reconstruction (signed pixels);
* ``dit``: :class:`FlowStep`, caption-conditioned rectified flow (velocity MSE) on cached latents;
* ``mse``: :class:`LatentCodecStep`, ``lambda_r R + MSE(y_hat, E(x))`` in latent space, every
  rate point ``r`` of one model (its learned per-channel steps in :class:`RateSteps`);
* ``codec``: :class:`AlignedLatentStep`, the same through the one-step DiT, ``+ L_distill + L_cond``
  (paper eq. 9, with the distortion measured against the frozen encoder's latent), and the kit's
  variance calibration of ``log_scale`` (:func:`~ditic_lite.flow.variance_calibration_loss`);
* ``tune``: :class:`PixelTuneStep`, the DiT-IC's short pixel-space fine-tune of its DiT and decoder
  LoRA (codec frozen: files keep their bytes), with MS-SSIM and adversarial terms.

A batch is ``(images, photo indexes)`` for ``ae`` and ``(latent, latent2, caption indexes)`` for
the stages on the latent cache (:mod:`ditic_lite.training.latent_cache`). Every step then makes the same
update (:meth:`StageStep.__call__`): gradient clip, the main optimiser, and the entropy
bottleneck's quantile loss on its own optimiser (codec stages). A stage's settings come from
:class:`~ditic_lite.training.config.TrainArgs` and the model config (:meth:`StageStep.settings`).
"""
from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from accelerate import Accelerator
from pytorch_msssim import ms_ssim

from .adversarial import PatchDiscriminator, adaptive_weight, hinge_discriminator_loss, hinge_generator_loss
from ..align import CaptionAlignment, self_distillation_loss
from ..config import DiTICConfig
from ..flow import variance_calibration_loss
from ..model import DiTIC
from .config import AutoencoderConfig, CodecConfig, FlowConfig, MSEConfig, TrainArgs, TuneConfig
from .runs import RunFolder
from .step import StageStep, code_as_file


def rate_bpp(likelihoods: dict[str, torch.Tensor], num_pixels: int) -> torch.Tensor:
    """Estimated bits per pixel: sum of -log2 p over y and z divided by the pixel count."""
    return sum(-torch.log2(l).sum() for l in likelihoods.values()) / num_pixels


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


class RateSteps(nn.Module):
    """The learned per-channel log quantisation steps of every rate point (row r: rate point r).

    Trained with the codec; each row becomes the ``codec.log_step`` of one shipped rate point. The
    rows start a factor sqrt(2) apart, the coarsest (lowest rate) first.
    """

    def __init__(self, rates: int, channels: int) -> None:
        super().__init__()
        start = torch.tensor([0.5 * math.log(2.0) * ((rates - 1) / 2 - r) for r in range(rates)])
        self.log_steps = nn.Parameter(start[:, None].repeat(1, channels))


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


class FlowStep(StageStep):
    """Stage ``dit``: caption-conditioned rectified flow on the frozen encoder's cached latents.

    ``x_t = (1 - t) x0 + t * noise`` with velocity target ``noise - x0``; ``t`` drawn from a
    logit-normal (as in SANA / SD3) and shifted like the scheduler; captions dropped with
    probability ``caption_dropout`` for classifier-free guidance.
    """

    Config = FlowConfig
    upstream = ("ae",)
    trained_part = "DiT"
    trains_codec = False
    timestep_shift = 3.0
    caption_dropout = 0.1

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, captions: torch.Tensor) -> None:
        super().__init__(model, params, lr)
        self.captions = captions

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        model.DiT.requires_grad_(True)

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(captions=captions)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        latent, _, idx = batch
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


class PixelTuneStep(StageStep):
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
    adversarial_start = 100
    discriminator_betas = (0.5, 0.9)

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
        self.disc_optimizer = torch.optim.AdamW(self.extra["disc"].parameters(), lr=lr,
                                                betas=self.discriminator_betas, weight_decay=0.0)
        self.calls = 0
        self._fake: torch.Tensor | None = None
        self._real: torch.Tensor | None = None

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

    def prepare(self, accelerator: Accelerator, loader: Any, channels_last: bool = False,
                compile: bool = False) -> Any:
        if accelerator.num_processes > 1:
            raise ValueError("train tune runs on one process")
        return super().prepare(accelerator, loader, channels_last=channels_last, compile=compile)

    def checkpointed(self) -> list[Any]:
        return super().checkpointed() + [self.disc_optimizer]

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

    def __call__(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        logs = super().__call__(batch)
        if self.adversarial_weight:  # then the discriminator's step on the same crops
            disc = self.extra["disc"]
            d_loss = hinge_discriminator_loss(disc(self._real), disc(self._fake))
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
            logs["disc"] = float(d_loss.detach())
        return logs


def is_tuned(name: str) -> bool:
    """Whether the tune trains this parameter: a LoRA matrix of the DiT or of the decoder (the
    autoencoder's LoRA targets only the decoder)."""
    return "lora_" in name and name.startswith(("DiT.", "vae."))


from .realism import RealismStep  # noqa: E402  (built on StageStep, like the stages above)

STAGE_STEPS: dict[str, type[StageStep]] = {step.Config.stage: step for step in (
    AutoencoderStep, FlowStep, AlignedLatentStep, LatentCodecStep, PixelTuneStep, RealismStep)}


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
