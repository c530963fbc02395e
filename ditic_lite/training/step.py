"""A training stage as one object (:class:`StageStep`): what it starts from, what it trains, its
config, what it records, and the update every stage shares. Each stage's loss is in :mod:`.stages`
(and :mod:`.realism` for the realism decoder)."""
from __future__ import annotations

import math
import random
from typing import Any, ClassVar

import torch
import torch.nn as nn
from accelerate import Accelerator

from ..config import DiTICConfig
from ..model import DiTIC
from .config import TrainArgs
from .runs import RunFolder


class StageStep:
    """A stage: its declarations (class attributes), then one optimisation step per call:
    :meth:`loss` (per stage), then the update they share.

    Declared by each stage: its config (``Config``, with the real defaults), the stages whose
    weights its model starts from (``upstream``, in load order; :func:`.setup.build_model`), what it
    trains (:meth:`trainable`), whether its batches come from the latent cache and what it records
    in each run's record (:meth:`record`). An instance is made before the data loader from the model
    and the parameters the stage trains; then :meth:`prepare` hands the trained part
    (:attr:`trained_part`) and the optimiser to accelerate. ``extra`` holds the stage's own modules
    (caption alignment, discriminator), which DDP does not wrap.
    """

    Config: ClassVar[type[TrainArgs]] = TrainArgs
    upstream: ClassVar[tuple[str, ...]] = ()  # stages whose weights the model starts from, in load order
    uses_dit: ClassVar[bool] = True  # the model has the DiT (the MSE baseline has none)
    lora: ClassVar[bool] = False  # the model carries the LoRA layers (added after the base weights)
    trained_part: str | None = None  # model attribute accelerate wraps ("vae", "DiT"); None: the whole model
    trains_codec = True  # the entropy bottleneck's quantiles learn too, on their own optimiser
    quantile_lr = 1e-3
    clip_norm = 4.0  # gradient-norm clip of the main optimiser's parameters
    one_process = False  # True: the step cannot run under DDP (it runs the whole model outside the wrapper)
    disc_optimizer: torch.optim.Optimizer | None = None  # AdversarialStep's

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
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        """Unfreeze what the stage trains (the whole model is frozen before)."""
        raise NotImplementedError

    @classmethod
    def prepare_model(cls, model: DiTIC) -> None:
        """Anything the model needs once the upstream weights are in (realism merges the LoRA)."""

    @classmethod
    def record(cls, args: TrainArgs) -> dict[str, Any]:
        """What each run's record holds besides the run's settings (the pixel-space stages: the
        step of the codec they trained on, which export checks)."""
        return {"codec_step": RunFolder(args.runs).codec_step()} if "codec" in cls.upstream else {}

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
        if self.one_process and accelerator.num_processes > 1:
            raise ValueError(f"train {self.Config.stage} runs on one process")
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
        return saved + [opt for opt in (self.quantile_optimizer, self.disc_optimizer) if opt is not None]

    uses_cache = True  # batches come from the latent cache (else: image crops)

    def ema_parameters(self) -> list[nn.Parameter]:
        """The stage's own parameters that are exported with the model, so averaged like it."""
        return []

    def exported(self) -> dict[str, torch.Tensor]:
        """The stage's own tensors written beside the model weights (``runs/<stage>/stage.safetensors``)."""
        return {}

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        """Take back what :meth:`exported` wrote (a run continued from its weights)."""

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        """The stage's loss on a batch, and what it logs."""
        raise NotImplementedError

    def __call__(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """One step; returns the logged scalars."""
        loss, logs = self.loss(batch)
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
        logs["loss"] = float(loss.detach())
        return logs


class AdversarialStep(StageStep):
    """A stage with discriminators (the tune, the realism decoder): after each step of the trained
    part they take theirs on the same crops (:meth:`discriminator_loss`); the generator term waits
    ``adversarial_start`` steps of each run while they learn alone. One process."""

    one_process = True
    adversarial_start = 100
    discriminator_betas = (0.5, 0.9)
    adversarial_weight = 0.0

    def init_discriminators(self, parameters: list[nn.Parameter], lr: float) -> None:
        """The discriminators' optimiser (saved in the run state) and the crops they judge."""
        self.disc_optimizer = torch.optim.AdamW(parameters, lr=lr, betas=self.discriminator_betas, weight_decay=0.0)
        self.calls = 0
        self._fake: torch.Tensor | None = None  # the last decoded crops, signed, detached
        self._real: torch.Tensor | None = None  # and their originals

    def discriminator_loss(self) -> torch.Tensor:
        """The discriminators' loss on the last crops (``_real`` against ``_fake``)."""
        raise NotImplementedError

    def __call__(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        logs = super().__call__(batch)
        if self.adversarial_weight:  # then the discriminators' step on the same crops
            d_loss = self.discriminator_loss()
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
            logs["disc"] = float(d_loss.detach())
        return logs


@torch.no_grad()
def code_as_file(model: DiTIC, x: torch.Tensor, rate_log_steps: torch.Tensor,
                 quant_jitter: float) -> tuple[dict[str, Any], torch.Tensor, int]:
    """Image crops ``x`` coded as a file codes them (eval-mode rounding, a random rate point, a
    random step jitter of +-``quant_jitter`` octaves, fp32): ``(codec outputs, the encoder's
    latent, the rate point)``."""
    r = random.randrange(len(rate_log_steps))
    jitter = random.uniform(-quant_jitter, quant_jitter) * math.log(2.0)
    with torch.autocast(x.device.type, enabled=False):
        latent, latent2 = model.encode_latents(x.float())
        return model.codec(latent, latent2, log_step=rate_log_steps[r].to(x.device) + jitter), latent, r
