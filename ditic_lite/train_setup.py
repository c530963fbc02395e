"""The model of a training stage: the weights it starts from and the parameters it trains.

A stage starts from the newest weights of the stages before it in ``runs/`` (SPEC section 11):
the autoencoder for every later stage, the frozen encoder of the latent cache
(``runs/cache/encoder.safetensors``, :mod:`ditic_lite.latent_cache`) once there is one, and the
base DiT for the DiT-IC stage, the finished DiT-IC codec for its pixel-space tune. A continued run
then takes the parts it trains from its own ``runs/<stage>/model.safetensors``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from .checkpoints import CheckpointError, load_into, read_safetensors
from .config import DiTICConfig
from .model import DiTIC
from .train_config import TrainArgs, run_config, run_weights

CODEC_STAGES = ("codec", "mse")  # stages whose entropy bottleneck learns its quantiles
PIXEL_TUNE_STAGES = ("tune", "realism")  # on the finished DiT-IC codec, in pixel space
DOWNSTREAM_STAGES = ("dit", *CODEC_STAGES, *PIXEL_TUNE_STAGES)  # on the autoencoder's (and frozen encoder's) weights


def load_stage_weights(model: nn.Module, path: Path, prefixes: tuple[str, ...] | None = None) -> None:
    """Load a previous stage's weights (only keys under ``prefixes``), failing on any mismatch."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the previous training stage first")
    tensors = read_safetensors(path)
    if prefixes is not None:
        tensors = {k: v for k, v in tensors.items() if k.startswith(prefixes)}
    load_into(model, tensors, required=(), source=str(path))


def frozen_encoder_file(runs: Path) -> Path:
    """Where the frozen encoder of a runs folder lives (written with its latent cache)."""
    return runs / "cache" / "encoder.safetensors"


def build_model(args: TrainArgs) -> tuple[DiTIC, DiTICConfig]:
    """The stage's model with the upstream stages' weights of ``args.runs`` loaded.

    Once the latent cache exists its encoder is the model's (for ``ae`` too, which then trains
    the decoder alone: the latent space is frozen for good).
    """
    cfg = run_config(args.runs)
    model = DiTIC(cfg, use_dit=args.stage != "mse")
    if args.stage in DOWNSTREAM_STAGES:
        load_stage_weights(model, run_weights(args.runs, "ae"), ("vae.",))
    if frozen_encoder_file(args.runs).exists() and (args.stage in DOWNSTREAM_STAGES
                                                   or (args.stage == "ae" and args.freeze_encoder)):
        load_stage_weights(model, frozen_encoder_file(args.runs))
    if args.stage in ("codec", *PIXEL_TUNE_STAGES):
        load_stage_weights(model, run_weights(args.runs, "dit"), ("DiT.",))
    if args.stage in (*CODEC_STAGES, *PIXEL_TUNE_STAGES):  # both keep the LoRA layout (the baseline's stays zero)
        model.add_lora()
    if args.stage in PIXEL_TUNE_STAGES:  # the finished DiT-IC codec: its codec, prompter and DiT LoRA
        load_into(model, tuned_parts(read_safetensors(run_weights(args.runs, "codec"))), required=(),
                  source=str(run_weights(args.runs, "codec")))
    if args.stage == "realism":  # on top of the fidelity decoder: the tune's LoRA, merged (all of it frozen)
        load_into(model, tune_lora(read_safetensors(run_weights(args.runs, "tune"))), required=(),
                  source=str(run_weights(args.runs, "tune")))
        model.merge_lora()
    return model, cfg


def tuned_parts(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the tune takes from the DiT-IC codec stage: codec, prompter and the DiT's LoRA (not
    its autoencoder, which may have trained on since)."""
    return {k: v for k, v in tensors.items()
            if k.startswith(("codec.", "prompter.")) or (k.startswith("DiT.") and "lora_" in k)}


def is_tuned(name: str) -> bool:
    """Whether the tune trains this parameter: a LoRA matrix of the DiT or of the decoder (the
    autoencoder's LoRA targets only the decoder)."""
    return "lora_" in name and name.startswith(("DiT.", "vae."))


def tune_lora(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the tune trains (:func:`is_tuned`) of a state dict."""
    return {k: v for k, v in tensors.items() if is_tuned(k)}


def codec_stage_step(runs: Path) -> int | None:
    """The step of ``runs/codec`` now (a tune records the codec it tuned; export checks it)."""
    progress = runs / "codec" / "progress.json"
    return json.loads(progress.read_text()).get("step") if progress.exists() else None


def continue_own_weights(model: DiTIC, args: TrainArgs, params: list[nn.Parameter]) -> bool:
    """Start the trained parts from ``runs/<stage>/model.safetensors`` if it exists (a continued run).

    Only the parameters this stage trains are taken (plus the entropy bottleneck's quantiles), so
    newer upstream weights (a further-trained decoder, say) are kept. Returns whether it loaded.
    """
    path = run_weights(args.runs, args.run_dir.name)
    if not path.exists():
        return False
    trained = {id(p) for p in params}
    names = {n for n, p in model.named_parameters() if id(p) in trained}
    if args.stage in CODEC_STAGES:
        names.add("codec.entropy_bottleneck.quantiles")
    if args.stage == "ae" and not frozen_encoder_file(args.runs).exists():
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
    longer stage 1); :func:`restore_upstream` puts these copies back after the load. The
    autoencoder stage has no upstream (a frozen encoder is its own), and the entropy bottleneck's
    quantiles are a codec stage's own (they have their own optimiser), so neither is copied (the
    tune takes them from the codec, like the rest of it).
    """
    if stage == "ae":
        return {}
    own = ("codec.entropy_bottleneck.quantiles",) if stage in CODEC_STAGES else ()
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if not p.requires_grad and name not in own}


@torch.no_grad()
def restore_upstream(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy :func:`upstream_weights` back into ``model`` (after a training state was loaded)."""
    for name, p in model.named_parameters():
        if name in weights:
            p.copy_(weights[name])


def set_trainable(model: DiTIC, stage: str, freeze_encoder: bool = False) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze what the stage trains (SPEC section 11).

    ``freeze_encoder`` (stage ``ae``): only the decoder learns, so the latent space stays as it is.
    """
    model.requires_grad_(False)
    if stage == "ae":
        (model.vae.decoder if freeze_encoder else model.vae).requires_grad_(True)
    elif stage == "dit":
        model.DiT.requires_grad_(True)
    elif stage in CODEC_STAGES:
        # the codec and, for DiT-IC, the prompter and the DiT's LoRA; the auxiliary encoder is
        # frozen with the autoencoder's encoder (its features are in the latent cache), and the
        # decoder's LoRA needs pixels (not trained in latent space)
        model.codec.requires_grad_(True)
        if stage == "codec":
            model.prompter.requires_grad_(True)
            for name, p in model.DiT.named_parameters():
                if "lora_" in name:
                    p.requires_grad_(True)
        if model.config.codec.channel_steps:  # the rate points' steps are the stage's (RateSteps)
            model.codec.log_step.requires_grad_(False)
        # the entropy bottleneck's quantiles have their own optimiser
        model.codec.entropy_bottleneck.quantiles.requires_grad_(False)
    elif stage == "tune":  # the decoder side of DiT-IC; the codec stays frozen, so files keep their bytes
        for name, p in model.named_parameters():
            if is_tuned(name):
                p.requires_grad_(True)
    elif stage == "realism":  # nothing of the model: the stage's texture head learns (train_realism.py)
        pass
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return [p for p in model.parameters() if p.requires_grad]
