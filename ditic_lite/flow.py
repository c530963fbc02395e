"""Mechanism 1: the variance-guided reconstruction flow (paper section 3.2; SPEC section 8).

DiT-IC treats the decoded latent mean ``y_tilde`` as a noisy sample of a rectified flow whose
noise level is not global but *per latent pixel*: where the entropy model is unsure (large
predicted std ``sigma``), the decoded value is far from the truth and needs strong denoising;
where it is sure, little. The std becomes a pixel-wise pseudo-timestep

    sigma_map = sigma_t * min(offset + slope * |sigma|, 1)          (offset 0.4, slope 0.15)

and ONE Euler step of the flow reconstructs the latent

    y_hat = y_tilde - sigma_map * v_theta(y_tilde, t, c) (+ res)

with ``v_theta`` the LoRA-adapted DiT conditioned on the global timestep ``t`` (999) and the
latent condition ``c``. ``samplers.multi_step`` integrates the same flow in K Euler steps from
the same start (K = 1 is exactly the one-step update), and ``DiTIC.reconstruct`` wires it into
the decoder of both tiers. Explained in notebooks ``02`` and ``03``.
"""
from __future__ import annotations

import torch

from .config import FlowConfig


def std_from_log_scale(log_scale: torch.Tensor, cfg: FlowConfig = FlowConfig()) -> torch.Tensor:
    """The codec predicts a log-variance; ``std = exp(0.5 * clamp(log_scale, -30, 20))``."""
    lo, hi = cfg.log_scale_clamp
    return torch.exp(0.5 * log_scale.clamp(lo, hi))


def pseudo_timestep_map(std: torch.Tensor, cfg: FlowConfig = FlowConfig()) -> torch.Tensor:
    """Pixel-wise noise level ``sigma_map`` (in sigma units; x1000 for timestep units).

    Evaluated in the official operation order so float32 results are bit-identical:
    ``m = (slope*|std| + offset) - 1`` where ``|std| < saturation`` else 0;
    ``sigma_map = sigma_t * (1 + m) + 0``.
    """
    a = std.abs()
    sigma_t = torch.tensor(cfg.sigma_t, dtype=std.dtype, device=std.device)
    m = torch.where(a < cfg.saturation, (cfg.slope * a + cfg.offset) - 1.0, torch.zeros_like(a))
    return sigma_t * (1.0 + m) + 0.0


def one_step(y_tilde: torch.Tensor, v: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
    """The variance-guided update ``y_hat = y_tilde - sigma_map * v`` (before the residual)."""
    return y_tilde - sigma_map * v


def global_timestep_map(sigma_map: torch.Tensor) -> torch.Tensor:
    """Ablation of notebook 02: replace the pixel-wise map by its mean (one global timestep)."""
    return torch.full_like(sigma_map, float(sigma_map.mean()))


def variance_calibration_loss(log_scale: torch.Tensor, error: torch.Tensor, cfg: FlowConfig = FlowConfig()) -> torch.Tensor:
    """How well ``log_scale`` ranks the error it is meant to predict (training only; kit addition).

    The release learns ``log_scale`` through the one-step loss alone, so nothing makes it a
    variance: on the tiny model it ended up *lower* where the DiT's starting latent is wrong and in
    textured regions (Spearman -0.4 / -0.5 on the validation photos, 2026-12-03). This loss reads
    ``s = log_scale - b_c`` as the log-variance of a Gaussian for the starting error
    ``e = E(x) - (mean + res)`` and takes its negative log-likelihood ``0.5 * mean(s + e^2 exp(-s))``
    with each channel's offset ``b_c`` at its optimum, ``b_c = log mean(e^2 exp(-log_scale))``
    over the batch: only the *shape* of the map is asked for (high where the error is high), and
    its level per channel stays the DiT's choice. Equal to ``0.5 * mean_c(mean(l) + log mean(e^2
    e^-l) + 1)``; minimal when ``log_scale`` is ``log e^2`` plus a constant per channel. ``e`` is
    detached: only the codec's scale head learns from it.
    """
    lo, hi = cfg.log_scale_clamp
    log_var = log_scale.clamp(lo, hi).float()
    dims = (0, 2, 3)
    normalised = error.detach().float().square() * torch.exp(-log_var)
    offset = normalised.mean(dims, keepdim=True).clamp_min(1e-12).log()
    return 0.5 * (log_var.mean(dims) + offset.flatten() + 1.0).mean()
