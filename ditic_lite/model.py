r"""The DiT-IC network: five parts wired as in the paper (SPEC sections 1 and 7).

    image x --(DC-AE encoder, frozen)----------> latent (32ch, /32) --+
          \--(auxiliary ELIC encoder, frozen)--> latent2 (/16) -------+--> latent codec
    latent codec --(rANS bitstream, /64 and /256)--> mean y_tilde, log-variance, residual, prompt
    prompt --(prompter)--> caption-space tokens c
    y_tilde --(one variance-guided DiT step, flow.py)--> y_hat --(+res, DC-AE decoder + LoRA)--> x_hat

The attribute names (``vae``, ``DiT``, ``codec``, ``prompter``, ``aux_codec``, ``timesteps``) are
the official checkpoint prefixes, so the official tier is this class built from the official
configs. ``use_dit=False`` gives the MSE baseline of the kit: the same latent codec with the plain
decoder (``y_hat = y_tilde + res``), no diffusion step.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator

import torch
import torch.nn as nn
from diffusers import AutoencoderDC, SanaTransformer2DModel
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.tuners_utils import BaseTunerLayer

from . import flow, samplers
from .aux_encoder import AuxEncoder
from .config import DiTICConfig
from .latent_codec import LatentCodec
from .prompter import Prompter


def _clock(t: torch.Tensor) -> float:
    """``time.perf_counter()`` once the device of ``t`` has finished its queued work: CUDA runs
    asynchronously, so a stage's time is only right after a synchronisation."""
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
    return time.perf_counter()


class DiTIC(nn.Module):
    """DiT-IC of any tier. Inputs and outputs of the public methods are images in [0, 1]."""

    def __init__(self, cfg: DiTICConfig, use_dit: bool = True) -> None:
        super().__init__()
        self.config = cfg
        self.use_dit = use_dit
        self.vae = AutoencoderDC(**cfg.vae)
        self.DiT = SanaTransformer2DModel(**cfg.dit)
        self.codec = LatentCodec(cfg.codec)
        self.prompter = Prompter(cfg.prompter)
        self.aux_codec = AuxEncoder(cfg.aux)
        self.register_buffer("timesteps", torch.tensor([int(cfg.flow.timestep)], dtype=torch.int64))

    # ----------------------------------------------------------------- LoRA (SPEC section 10)
    def add_lora(self) -> None:
        """Wrap the DiT and the autoencoder decoder with peft LoRA adapters (B = 0 at start)."""
        lc = self.config.lora
        dit_cfg = LoraConfig(r=lc.dit_rank, lora_alpha=lc.dit_alpha, init_lora_weights="gaussian",
                             target_modules=list(lc.dit_targets))
        vae_cfg = LoraConfig(r=lc.vae_rank, lora_alpha=lc.vae_alpha, init_lora_weights="gaussian",
                             target_modules=lc.vae_target_regex)
        inject_adapter_in_model(dit_cfg, self.DiT)
        inject_adapter_in_model(vae_cfg, self.vae)

    @property
    def has_lora(self) -> bool:
        return any(isinstance(m, BaseTunerLayer) for m in self.modules())

    def merge_lora(self) -> None:
        """Fold the LoRA matrices into the base weights (W += alpha/r * B A) for fast inference."""
        for m in self.modules():
            if isinstance(m, BaseTunerLayer) and not m.merged:
                m.merge()

    @contextlib.contextmanager
    def lora_disabled(self, parts: tuple[str, ...] = ("DiT", "vae")) -> Iterator[None]:
        """Run the un-adapted base modules: LoRA switched off in ``parts`` (``"DiT"``, ``"vae"``:
        the autoencoder's decoder). Notebook 03 switches off only the DiT's, so that the base and
        the adapted DiT share one decoder."""
        unknown = set(parts) - {"DiT", "vae"}
        if unknown:
            raise ValueError(f"LoRA parts are 'DiT' and 'vae', got {sorted(unknown)}")
        layers = [m for part in parts for m in getattr(self, part).modules() if isinstance(m, BaseTunerLayer)]
        merged = [m for m in layers if m.merged]
        # unmerge() is not bit-exact (W + BA - BA != W in float), so keep the merged weights
        saved = [{k: v.detach().clone() for k, v in m.get_base_layer().state_dict().items()} for m in merged]
        for m in merged:
            m.unmerge()
        for m in layers:
            m.enable_adapters(False)
        try:
            yield
        finally:
            for m in layers:
                m.enable_adapters(True)
            for m, state in zip(merged, saved):
                m.merge()
                m.get_base_layer().load_state_dict(state)

    # ----------------------------------------------------------------- encoder side
    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def encode_latents(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image in [0,1] (padded) -> (DC-AE latent x scaling factor, auxiliary features) (SPEC 1.1)."""
        c = (x01 - 0.5) / 0.5
        latent2 = self.aux_codec((c + 1) / 2)
        latent = self.vae.encode(c).latent * self.scaling_factor
        return latent, latent2

    # ----------------------------------------------------------------- decoder side
    def dit_timestep(self, t: float, like: torch.Tensor) -> torch.Tensor:
        """The DiT's timestep input for flow time ``t`` (0..1000): a 1-element tensor with the dtype
        and device of ``like``. The official tier overrides this hook with its convention."""
        return samplers.plain_timestep(t, like)

    def velocity(self, x: torch.Tensor, timestep: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The DiT's flow velocity ``v_theta(x, t, c)``."""
        return self.DiT(x, encoder_hidden_states=tokens, timestep=timestep.expand(x.shape[0]),
                        return_dict=False)[0]

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Scaled latent -> image in [0, 1] (clamped)."""
        image = self.vae.decode(latent / self.scaling_factor).sample
        return (image.clamp(-1, 1) * 0.5 + 0.5).clamp(0, 1)

    def reconstruct(
        self,
        codec_out: dict[str, torch.Tensor],
        steps: int = 1,
        pixelwise: bool = True,
        trajectory: list[torch.Tensor] | None = None,
        *,
        tokens: torch.Tensor | None = None,
        velocities: list[torch.Tensor] | None = None,
        decode: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Codec outputs (mean, log_scale, res, prompt) -> reconstructed latent and image; both tiers.

        ``steps`` Euler steps of the variance-guided flow (``samplers.multi_step``; 1 = the paper's
        one-step decode), the DiT queried through :meth:`velocity` at :meth:`dit_timestep`.
        ``pixelwise=False`` replaces the pseudo-timestep map by its mean (the global-timestep
        ablation of notebook 02). ``tokens`` replaces the prompter's latent condition (notebook 06).
        States and velocities of each step are appended to ``trajectory`` / ``velocities`` when
        lists are given. Returns a dict with ``std``, ``sigma_map``, ``tokens``, ``y_hat`` (latent
        fed to the decoder), ``image`` (in [0, 1]; left out with ``decode=False``) and ``timings``
        (seconds per stage).
        """
        timings: dict[str, float] = {}
        mean = codec_out["mean"]
        std = flow.std_from_log_scale(codec_out["log_scale"], self.config.flow)
        sigma_map = flow.pseudo_timestep_map(std, self.config.flow)
        if not pixelwise:
            sigma_map = flow.global_timestep_map(sigma_map)
        tic = _clock(mean)
        tokens = self.prompter(codec_out["prompt"]) if tokens is None else tokens.to(mean)
        if self.use_dit:
            x0 = samplers.multi_step(lambda x, t: self.velocity(x, t, tokens), mean, sigma_map, steps=steps,
                                     cfg=self.config.flow, trajectory=trajectory, velocities=velocities,
                                     dit_timestep=self.dit_timestep)
        else:
            x0 = mean
        y_hat = x0 + codec_out["res"]
        timings["dit"] = _clock(y_hat) - tic
        out = {"std": std, "sigma_map": sigma_map, "tokens": tokens, "y_hat": y_hat}
        if decode:
            tic = _clock(y_hat)
            out["image"] = self.decode_latent(y_hat)
            timings["decoder"] = _clock(out["image"]) - tic
        return {**out, "timings": timings}

    def forward(
        self, x01: torch.Tensor | None = None, steps: int = 1, decode: bool = True, *,
        latents: tuple[torch.Tensor, torch.Tensor] | None = None, log_step: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Training/analysis pass without entropy coding: likelihoods, latents and the image.

        ``latents`` (``latent``, ``latent2``) replaces the encoder: the stages that train on the
        latent cache pass them, with ``decode=False`` (the decoded latent ``y_hat``, no image).
        ``log_step`` replaces the codec's per-channel steps (training several rate points).
        """
        latent, latent2 = self.encode_latents(x01) if latents is None else latents
        codec_out = self.codec(latent, latent2, log_step=log_step)
        out = self.reconstruct(codec_out, steps=steps, decode=decode)
        out.update(likelihoods=codec_out["likelihoods"], latent=latent, mean=codec_out["mean"],
                   res=codec_out["res"], log_scale=codec_out["log_scale"])
        return out


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
