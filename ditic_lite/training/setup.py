"""The model of a training stage: the weights it starts from and the parameters it trains.

A stage starts from the newest weights of the stages it declares upstream (``StageStep.upstream``,
SPEC section 11): the autoencoder for every later stage, the frozen encoder of the latent cache
(``runs/cache/encoder.safetensors``, :mod:`.latent_cache`) once there is one, the base DiT for
DiT-IC, the finished DiT-IC codec for its pixel-space tune, and the tune's LoRA for the realism
decoder. A continued run then takes the parts it trains from its own ``runs/<stage>/model.safetensors``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from ..checkpoints import CheckpointError, load_into, read_safetensors
from ..config import DiTICConfig
from ..model import DiTIC
from .config import TrainArgs
from .runs import RunFolder
from .stages import STAGE_STEPS, is_tuned, stage_config


def tuned_parts(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the tune takes from the DiT-IC codec stage: codec, prompter and the DiT's LoRA (not
    its autoencoder, which may have trained on since)."""
    return {k: v for k, v in tensors.items()
            if k.startswith(("codec.", "prompter.")) or (k.startswith("DiT.") and "lora_" in k)}


def tune_lora(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the tune trains (:func:`.stages.is_tuned`) of a state dict."""
    return {k: v for k, v in tensors.items() if is_tuned(k)}


# what a downstream stage takes of each upstream stage's weights
UPSTREAM_PARTS: dict[str, Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]] = {
    "ae": lambda t: {k: v for k, v in t.items() if k.startswith("vae.")},
    "dit": lambda t: {k: v for k, v in t.items() if k.startswith("DiT.")},
    "codec": tuned_parts,
    "tune": tune_lora,
}
NEEDS_LORA = ("codec", "tune")  # upstream parts in the LoRA layout: loaded after the layers are added


def load_stage_weights(model: nn.Module, path: Path, prefixes: tuple[str, ...] | None = None) -> None:
    """Load a previous stage's weights (only keys under ``prefixes``), failing on any mismatch."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the previous training stage first")
    tensors = read_safetensors(path)
    if prefixes is not None:
        tensors = {k: v for k, v in tensors.items() if k.startswith(prefixes)}
    load_into(model, tensors, required=(), source=str(path))


def build_model(args: TrainArgs) -> tuple[DiTIC, DiTICConfig]:
    """The stage's model with its upstream stages' weights of ``args.runs`` loaded.

    Once the latent cache exists its encoder is the model's (for ``ae`` too, which then trains
    the decoder alone: the latent space is frozen for good).
    """
    step, runs = STAGE_STEPS[args.stage], RunFolder(args.runs)
    cfg = runs.config()
    model = DiTIC(cfg, use_dit=step.uses_dit)
    for upstream in step.upstream:
        if upstream in NEEDS_LORA and step.lora and not model.has_lora:
            model.add_lora()
        path = runs.weights(upstream)
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: stage {args.stage} starts from stage {upstream}: train it first")
        load_into(model, UPSTREAM_PARTS[upstream](read_safetensors(path)), required=(), source=str(path))
        if upstream == "ae" and runs.frozen_encoder.exists():
            load_stage_weights(model, runs.frozen_encoder)
    if not step.upstream and getattr(args, "freeze_encoder", False) and runs.frozen_encoder.exists():
        load_stage_weights(model, runs.frozen_encoder)
    if step.lora and not model.has_lora:
        model.add_lora()
    step.prepare_model(model)
    return model, cfg


def continue_own_weights(model: DiTIC, args: TrainArgs, params: list[nn.Parameter]) -> bool:
    """Start the trained parts from ``runs/<stage>/model.safetensors`` if it exists (a continued run).

    Only the parameters this stage trains are taken (plus the entropy bottleneck's quantiles), so
    newer upstream weights (a further-trained decoder, say) are kept. Returns whether it loaded.
    """
    runs = RunFolder(args.runs)
    path = runs.weights(args.stage)
    if not path.exists():
        return False
    trained = {id(p) for p in params}
    names = {n for n, p in model.named_parameters() if id(p) in trained}
    if STAGE_STEPS[args.stage].trains_codec:
        names.add("codec.entropy_bottleneck.quantiles")
    if not STAGE_STEPS[args.stage].upstream and not runs.frozen_encoder.exists():
        # no upstream stage: a frozen encoder comes from this file too (until the cache freezes it)
        names |= {k for k in model.state_dict() if k.startswith("vae.")}
    tensors = {k: v for k, v in read_safetensors(path).items() if k in names}
    try:
        load_into(model, tensors, required=sorted(names), source=str(path))
    except CheckpointError as err:
        raise CheckpointError(f"{err}; delete it to train this stage from scratch") from None
    return True


def upstream_weights(model: DiTIC, stage: str) -> dict[str, torch.Tensor]:
    """Copies of the frozen parameters the stage took from upstream stages (call after
    :func:`set_trainable`): the autoencoder, the base DiT, stage 1's shared parts, ...

    A resumed training state holds the whole model as it was when the run started, so loading it
    would bring back upstream weights that have moved on since (a further-trained autoencoder, a
    longer stage 1); :func:`restore_upstream` puts these copies back after the load. A stage with
    no upstream (the autoencoder: a frozen encoder is its own) copies nothing, and the entropy
    bottleneck's quantiles are a codec stage's own (they have their own optimiser).
    """
    step = STAGE_STEPS[stage]
    if not step.upstream:
        return {}
    own = ("codec.entropy_bottleneck.quantiles",) if step.trains_codec else ()
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if not p.requires_grad and name not in own}


@torch.no_grad()
def restore_upstream(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy :func:`upstream_weights` back into ``model`` (after a training state was loaded)."""
    for name, p in model.named_parameters():
        if name in weights:
            p.copy_(weights[name])


def set_trainable(model: DiTIC, stage: str, freeze_encoder: bool = False) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze what the stage trains (``StageStep.trainable``).

    ``freeze_encoder`` (stage ``ae``): only the decoder learns, so the latent space stays as it is.
    """
    if stage not in STAGE_STEPS:
        raise ValueError(f"unknown stage {stage!r}")
    model.requires_grad_(False)
    args = stage_config(stage, **({"freeze_encoder": freeze_encoder} if stage == "ae" else {}))
    STAGE_STEPS[stage].trainable(model, args)
    return [p for p in model.parameters() if p.requires_grad]
