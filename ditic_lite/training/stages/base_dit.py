"""Stage ``dit``: the base DiT, caption-conditioned rectified flow on the frozen encoder's cached latents."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...config import DiTICConfig
from ...model import DiTIC
from ..config import TrainArgs
from ..step import StageStep


@dataclass
class FlowConfig(TrainArgs):
    """Stage ``dit``: the base DiT, caption-conditioned rectified flow on the cached latents."""

    stage: ClassVar[str] = "dit"
    steps: int = 1500
    batch_size: int = 16
    crop: int = 16
    lr: float = 5e-4
    bf16: bool = True


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
