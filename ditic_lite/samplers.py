r"""Samplers beside the flow: the K-step variance-guided flow and SDEdit with the base DiT.

Both integrate a rectified flow with Euler steps; they differ in where they start and which
noise levels they visit. ``velocity(x, timestep)`` is the DiT's velocity at a 1-element timestep
tensor in DiT units (0..1000), as built by ``dit_timestep(t, like)`` (default: ``t`` in the
dtype of ``like``; the official tier passes its own convention, ``DiTIC.dit_timestep``).

* :func:`multi_step`: DiT-IC's pixel-wise flow (``flow.py``) from the decoded mean down to 0.
* :func:`sdedit`: the un-adapted base DiT as an ordinary text-to-image sampler, started from a
  noised coarse latent.

Explained in notebook ``03_one_step_vs_multi_step``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .config import FlowConfig
from .flow import one_step

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``v(x, timestep) -> velocity``; ``timestep`` is a 1-element tensor in DiT units (0..1000)."""

DiTTimestep = Callable[[float, torch.Tensor], torch.Tensor]
"""``dit_timestep(t, like) -> timestep``: the DiT's timestep input for flow time ``t`` (0..1000)."""

SDEDIT_SHIFT = 3.0  # the base DiT's flow shift (SANA was trained with shift 3)


def plain_timestep(t: float, like: torch.Tensor) -> torch.Tensor:
    """``t`` as a 1-element tensor with the dtype and device of ``like`` (the tiny tier's convention)."""
    return torch.tensor([t], dtype=like.dtype, device=like.device)


def multi_step(
    velocity: Velocity,
    y_tilde: torch.Tensor,
    sigma_map: torch.Tensor,
    steps: int = 1,
    cfg: FlowConfig = FlowConfig(),
    trajectory: list[torch.Tensor] | None = None,
    velocities: list[torch.Tensor] | None = None,
    dit_timestep: DiTTimestep = plain_timestep,
) -> torch.Tensor:
    r"""Integrate the pixel-wise flow from ``sigma_map`` down to 0 in ``steps`` Euler steps.

    With :math:`f_k = 1 - k/K` and :math:`x_0 = \tilde y`,

        x_{k+1} = x_k - (f_k - f_{k+1}) * sigma_map * v(x_k, f_k t)

    every pixel moves from level ``f_k * sigma_map`` to ``f_{k+1} * sigma_map`` while the DiT is
    queried at the global timestep ``f_k * t``. K = 1 is exactly the one-step update
    :func:`ditic_lite.flow.one_step` at timestep ``t``. The state after each step is appended to
    ``trajectory`` and each step's velocity to ``velocities`` when lists are given.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = y_tilde
    for k in range(steps):
        frac_now, frac_next = 1.0 - k / steps, 1.0 - (k + 1) / steps
        v = velocity(x, dit_timestep(cfg.timestep * frac_now, x))
        if steps == 1:
            x = one_step(x, v, sigma_map)
        else:
            x = x - (sigma_map * (frac_now - frac_next)) * v
        if trajectory is not None:
            trajectory.append(x)
        if velocities is not None:
            velocities.append(v)
    return x


def sdedit_sigmas(strength: float, steps: int, shift: float = SDEDIT_SHIFT) -> list[float]:
    """Unshifted sigmas whose shift-``shift`` images run from ``strength`` down, ``steps`` of them."""
    start = strength / (shift - (shift - 1.0) * strength)  # inverse of s -> shift*s / (1 + (shift-1)*s)
    return np.linspace(start, 0.0, steps + 1)[:-1].tolist()


def sdedit(
    velocity: Velocity,
    x0: torch.Tensor,
    strength: float,
    steps: int,
    seed: int = 0,
    shift: float = SDEDIT_SHIFT,
    dit_timestep: DiTTimestep = plain_timestep,
) -> tuple[torch.Tensor, float]:
    r"""SDEdit with a rectified-flow model: noise ``x0`` to level ``s_0 = strength``, integrate to 0.

        x_{s_0} = (1 - s_0) x0 + s_0 * eps,                     eps ~ N(0, I) (CPU generator, ``seed``)
        x_{s_{k+1}} = x_{s_k} + (s_{k+1} - s_k) * v(x_{s_k}, 1000 s_k)

    on the ``steps`` levels of diffusers' ``FlowMatchEulerDiscreteScheduler`` (shift ``shift``,
    :func:`sdedit_sigmas`), the flow the base model was trained on (``x_s = (1 - s) x0 + s eps``,
    ``v = eps - x0``). Returns the final latent and ``s_0`` as the scheduler holds it.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    scheduler.set_timesteps(sigmas=sdedit_sigmas(strength, steps, shift), device=x0.device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    s0 = float(scheduler.sigmas[0])
    x = (1.0 - s0) * x0 + s0 * noise
    for t in scheduler.timesteps:
        v = velocity(x, dit_timestep(float(t), x))
        x = scheduler.step(v, t, x, return_dict=False)[0]
    return x, s0
