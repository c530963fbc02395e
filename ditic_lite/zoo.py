"""Shipped checkpoints and the single entry point ``load(name, ...)``.

Layout of ``ditic_lite/checkpoints/`` (safetensors only, a JSON card beside each file)::

    tiny/config.json             DiTICConfig of the tiny tier
    tiny/base.safetensors        autoencoder, base DiT (pretrained flow model), auxiliary encoder
    tiny/shared.safetensors      the context model of the latent codec (adapters, g_c, LRP), trained
                                 in stage 1 and shared by every rate point (keeps the kit < 40 MB)
    tiny/rate{i}.safetensors     per rate point: the rest of the latent codec, prompter, LoRA
    mse/rate{i}.safetensors      MSE baseline: the same, no DiT step

A model is base + shared + one rate file; its bitstreams carry the first 8 bytes of
SHA-256 of the digests of these files and of config.json, so a file decoded with other weights
or another configuration is refused.
Every file's SHA-256 is recorded in its card and checked at load.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .codec import Codec
from .config import PRESETS, DiTICConfig
from .data import sha256_file
from .model import DiTIC

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
LEARNED = {"tiny": ("tiny", True), "mse": ("tiny", False)}  # name -> (base folder, use_dit)


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated, tampered with or does not fit the model."""


def read_card(weights: Path) -> dict[str, Any]:
    card_path = weights.with_suffix(".json")
    if not card_path.exists():
        raise CheckpointError(f"{weights.name}: its model card {card_path.name} is missing")
    try:
        card = json.loads(card_path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{card_path.name}: the model card is not valid JSON ({err})") from None
    if not isinstance(card, dict) or not isinstance(card.get("sha256"), str):
        raise CheckpointError(f"{card_path.name}: the model card records no sha256 for {weights.name}")
    return card


def load_weights(path: Path, check_hash: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file after checking its SHA-256 against the card; float32 tensors."""
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found")
    card = read_card(path)
    if check_hash:
        digest = sha256_file(path)
        if digest != card.get("sha256"):
            raise CheckpointError(
                f"{path.name}: SHA-256 {digest[:16]}... does not match its card "
                f"({str(card.get('sha256'))[:16]}...): the file is corrupted or was modified"
            )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path.name}: not a valid safetensors file ({err})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, card


def save_weights(tensors: dict[str, torch.Tensor], path: Path, card: dict[str, Any],
                 dtype: torch.dtype = torch.float16) -> dict[str, Any]:
    """Write tensors (floats stored as ``dtype``) and the card with the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).contiguous().cpu()
              for k, v in tensors.items()}
    save_file(stored, str(path))
    card = dict(card, file=path.name, sha256=sha256_file(path), storage_dtype=str(dtype).replace("torch.", ""))
    path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return card


BASE_PREFIXES = ("vae.", "DiT.", "aux_codec.")
SHARED_PREFIXES = ("codec.adapter_in.", "codec.adapter_out.", "codec.g_c.", "codec.LRP.")


def base_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """The shared part: autoencoder, base DiT and auxiliary encoder (without LoRA)."""
    return {_lora_free_key(k): v for k, v in model.state_dict().items()
            if k.startswith(BASE_PREFIXES) and "lora_" not in k}


def shared_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """The context model shared by all rate points."""
    return {k: v for k, v in model.state_dict().items() if k.startswith(SHARED_PREFIXES)}


ENTROPY_TABLES = re.compile(
    r"codec\.(entropy_bottleneck|gaussian_conditional)\.(_quantized_cdf|_offset|_cdf_length|scale_table)$")


def _unused_without_dit(key: str) -> bool:
    return key.startswith("prompter.") or (key.startswith("DiT.") and "lora_" in key)


def rate_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """The per-rate part: the rest of the latent codec, the prompter and the LoRA matrices.

    Entropy tables are left out (``update()`` recomputes them); without the DiT step (MSE
    baseline) the prompter and the DiT's LoRA are left out too.
    """
    return {k: v for k, v in model.state_dict().items()
            if ((k.startswith(("codec.", "prompter.")) and not k.startswith(SHARED_PREFIXES)) or "lora_" in k)
            and not ENTROPY_TABLES.search(k) and (model.use_dit or not _unused_without_dit(k))}


def _lora_free_key(key: str) -> str:
    return key.replace(".base_layer.", ".")


def assemble(config: DiTICConfig, base: dict[str, torch.Tensor], rate: dict[str, torch.Tensor] | None,
             use_dit: bool = True) -> DiTIC:
    """Build the model and load base (+ rate) weights strictly: every key, every shape."""
    model = DiTIC(config, use_dit=use_dit)
    if rate is not None:
        model.add_lora()
    expected = {_lora_free_key(k): k for k in model.state_dict()}
    tensors = {expected.get(_lora_free_key(k), k): v for k, v in {**base, **(rate or {})}.items()}
    own = model.state_dict()
    # entropy tables have data-dependent sizes: they are recomputed by update() below
    table = ENTROPY_TABLES
    missing = [k for k in own if k not in tensors and not table.search(k) and k != "timesteps"]
    if rate is None:
        missing = [k for k in missing if k.startswith(BASE_PREFIXES)]
    if not use_dit:
        missing = [k for k in missing if not _unused_without_dit(k)]
    unexpected = [k for k in tensors if k not in own]
    wrong = [k for k in tensors if k in own and tensors[k].shape != own[k].shape and not table.search(k)]
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError("checkpoint does not fit the model (" + "; ".join(parts) + ")")
    model.load_state_dict({k: v for k, v in tensors.items() if not table.search(k)}, strict=False)
    model.codec.update(force=True)
    return model.eval()


def available_rates(name: str, checkpoints: Path | None = None) -> list[int]:
    folder = (checkpoints or CHECKPOINT_DIR) / name
    return sorted(int(m.group(1)) for p in folder.glob("rate*.safetensors")
                  if (m := re.fullmatch(r"rate(\d+)\.safetensors", p.name)))


def load(name: str = "tiny", rate: int = 0, device: str | torch.device = "cpu",
         checkpoint: str | Path | None = None, dtype: torch.dtype = torch.float32,
         check_hash: bool = True, checkpoints: Path | None = None) -> Codec:
    """Load a codec by name: ``"tiny"`` (DiT-IC tiny), ``"mse"`` (MSE baseline) or ``"official"``.

    ``rate`` picks one of ``codec.rates``; ``checkpoint`` is the file or hub id of the official
    release (``"official"`` only). The tiny tier runs in float32 on any device; ``checkpoints``
    is the folder it is read from (the shipped one by default; a fresh export for its cards).
    """
    device = torch.device(device)
    if name == "official":
        from . import official
        return official.load_codec(checkpoint=checkpoint, device=device, dtype=dtype)
    if name not in LEARNED:
        raise ValueError(f"unknown model '{name}'; choose from {sorted([*LEARNED, 'official'])}")
    if checkpoint is not None:
        raise ValueError("checkpoint= is only for the official model; the tiny tier ships its weights")
    base_name, use_dit = LEARNED[name]
    checkpoints = checkpoints or CHECKPOINT_DIR
    rates = available_rates(name, checkpoints)
    if not rates:
        raise CheckpointError(f"no checkpoints for '{name}' in {checkpoints / name}")
    if rate not in rates:
        raise ValueError(f"rate {rate} not available for '{name}'; choose from {rates}")
    config = _load_config(checkpoints / base_name / "config.json")
    base, base_card = load_weights(checkpoints / base_name / "base.safetensors", check_hash)
    shared, shared_card = load_weights(checkpoints / base_name / "shared.safetensors", check_hash)
    rate_tensors, card = load_weights(checkpoints / name / f"rate{rate}.safetensors", check_hash)
    config_digest = sha256_file(checkpoints / base_name / "config.json")
    if check_hash and base_card.get("config_sha256", config_digest) != config_digest:
        raise CheckpointError("config.json does not match the SHA-256 recorded in base.json: it was modified")
    model = assemble(config, base, {**shared, **rate_tensors}, use_dit=use_dit).to(device)
    model.merge_lora()
    digests = config_digest + base_card["sha256"] + shared_card["sha256"] + card["sha256"]
    checkpoint_id = hashlib.sha256(digests.encode()).digest()[:8]
    return Codec(model=model, name=name, rate=rate, rates=rates, checkpoint_id=checkpoint_id,
                 card={"base": base_card, "shared": shared_card, **card}, device=device)


def _load_config(path: Path) -> DiTICConfig:
    """The tier's config.json; a missing or damaged file is a :class:`CheckpointError`."""
    if not path.exists():
        raise CheckpointError(f"model config {path} not found")
    try:
        return DiTICConfig.load(path)
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path.name}: not a valid model config ({type(err).__name__}: {err})") from None


def load_base(name: str = "tiny", device: str | torch.device = "cpu") -> DiTIC:
    """The pretrained multi-step base: autoencoder + text-conditioned flow DiT, no codec training."""
    config = _load_config(CHECKPOINT_DIR / name / "config.json")
    base, _ = load_weights(CHECKPOINT_DIR / name / "base.safetensors")
    return assemble(config, base, None).to(device)


def new_model(preset: str = "tiny", use_dit: bool = True) -> DiTIC:
    """A randomly initialised model of a named preset (tests, training from scratch)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}'; choose from {sorted(PRESETS)}")
    return DiTIC(PRESETS[preset](), use_dit=use_dit)
