"""Shipped checkpoints and the single entry point ``load(name, ...)``.

Layout of ``ditic_lite/checkpoints/`` (safetensors only, a JSON card beside each file)::

    tiny/config.json             DiTICConfig of the tiny tier
    tiny/base.safetensors        autoencoder, base DiT (pretrained flow model), auxiliary encoder
    tiny/shared.safetensors      what every rate point of the model shares
    tiny/rate{i}.safetensors     what is rate point i's own
    mse/shared.safetensors       MSE baseline: the same, no DiT step (without it: tiny's shared file)
    mse/rate{i}.safetensors

What is shared depends on the codec (:func:`shared_state`). With per-channel quantisation steps
(``codec.channel_steps``, the third tiny tier) one model codes every rate point: ``shared`` holds
the whole latent codec, the prompter and the DiT's LoRA, and a rate file only the rate point's
steps ``codec.log_step``. Without them (the first tiny tiers) each rate point had its own codec:
``shared`` held the context model (adapters, g_c, LRP) and a rate file the rest.

A model is base + shared + one rate file; its bitstreams carry the first 8 bytes of
SHA-256 of the digests of these files and of config.json, so a file decoded with other weights
or another configuration is refused.
Every file's SHA-256 is recorded in its card and checked at load (:mod:`ditic_lite.checkpoints`).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from .checkpoints import CheckpointError, is_entropy_table, load_into, load_weights, sha256_file
from .codec import Codec
from .config import PRESETS, DiTICConfig
from .model import DiTIC
from .realism import REALISM_FILE, TextureHead
from .registry import CODECS, OFFICIAL, TINY, names

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
TIER_FOLDER = "tiny"  # config, base and shared weights of every codec of kind ``tiny`` (rate files: ``<name>/``)


BASE_PREFIXES = ("vae.", "DiT.", "aux_codec.")
SHARED_PREFIXES = ("codec.adapter_in.", "codec.adapter_out.", "codec.g_c.", "codec.LRP.")


def base_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """The shared part: autoencoder, base DiT and auxiliary encoder (without LoRA)."""
    return {_lora_free_key(k): v for k, v in model.state_dict().items()
            if k.startswith(BASE_PREFIXES) and "lora_" not in k}


RATE_KEYS = ("codec.log_step",)  # a rate point's own tensors when the codec has per-channel steps


def _unused_without_dit(key: str) -> bool:
    return key.startswith("prompter.") or (key.startswith("DiT.") and "lora_" in key)


def _trained_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """Codec, prompter and LoRA tensors: what the codec stages train (no entropy tables, which
    ``update()`` recomputes; without the DiT step, no prompter and no DiT LoRA)."""
    return {k: v for k, v in model.state_dict().items()
            if (k.startswith(("codec.", "prompter.")) or "lora_" in k)
            and not is_entropy_table(k) and (model.use_dit or not _unused_without_dit(k))}


def _is_shared(model: DiTIC, key: str) -> bool:
    if model.config.codec.channel_steps:
        return key not in RATE_KEYS
    return key.startswith(SHARED_PREFIXES)


def shared_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """What all rate points share (see the module docstring)."""
    return {k: v for k, v in _trained_state(model).items() if _is_shared(model, k)}


def rate_state(model: DiTIC) -> dict[str, torch.Tensor]:
    """A rate point's own part (see the module docstring)."""
    return {k: v for k, v in _trained_state(model).items() if not _is_shared(model, k)}


def _lora_free_key(key: str) -> str:
    return key.replace(".base_layer.", ".")


def assemble(config: DiTICConfig, base: dict[str, torch.Tensor], rate: dict[str, torch.Tensor] | None,
             use_dit: bool = True) -> DiTIC:
    """Build the model and load base (+ rate) weights strictly: every key, every shape."""
    model = DiTIC(config, use_dit=use_dit)
    if rate is not None:
        model.add_lora()
    own = model.state_dict()
    expected = {_lora_free_key(k): k for k in own}
    tensors = {expected.get(_lora_free_key(k), k): v for k, v in {**base, **(rate or {})}.items()}
    required = [k for k in own if k != "timesteps" and (rate is not None or k.startswith(BASE_PREFIXES))
                and (use_dit or not _unused_without_dit(k))]
    load_into(model, tensors, required)
    model.codec.update(force=True)  # the entropy tables, which load_into leaves out
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
    entry = CODECS.get(name)
    if entry is None or entry.kind not in (TINY, OFFICIAL):
        raise ValueError(f"unknown model '{name}'; choose from {sorted(names(TINY, OFFICIAL))}")
    if entry.kind == OFFICIAL:
        from . import official
        return official.load_codec(checkpoint=checkpoint, device=device, dtype=dtype)
    if checkpoint is not None:
        raise ValueError("checkpoint= is only for the official model; the tiny tier ships its weights")
    base_name, use_dit = TIER_FOLDER, entry.dit_steps
    checkpoints = checkpoints or CHECKPOINT_DIR
    rates = available_rates(name, checkpoints)
    if not rates:
        raise CheckpointError(f"no checkpoints for '{name}' in {checkpoints / name}")
    if rate not in rates:
        raise ValueError(f"rate {rate} not available for '{name}'; choose from {rates}")
    config = _load_config(checkpoints / base_name / "config.json")
    base, base_card = load_weights(checkpoints / base_name / "base.safetensors", check_hash)
    shared_file = checkpoints / name / "shared.safetensors"
    if not shared_file.exists():  # the first tiny tiers: one context model for both codecs
        shared_file = checkpoints / base_name / "shared.safetensors"
    shared, shared_card = load_weights(shared_file, check_hash)
    rate_tensors, card = load_weights(checkpoints / name / f"rate{rate}.safetensors", check_hash)
    config_digest = sha256_file(checkpoints / base_name / "config.json")
    if check_hash and base_card.get("config_sha256", config_digest) != config_digest:
        raise CheckpointError("config.json does not match the SHA-256 recorded in base.json: it was modified")
    model = assemble(config, base, {**shared, **rate_tensors}, use_dit=use_dit).to(device)
    model.merge_lora()
    digests = config_digest + base_card["sha256"] + shared_card["sha256"] + card["sha256"]
    checkpoint_id = hashlib.sha256(digests.encode()).digest()[:8]  # the realism decoder reads the same files
    head, head_card = load_realism(checkpoints / name, config, check_hash)
    cards = {"base": base_card, "shared": shared_card, **({"realism": head_card} if head_card else {}), **card}
    return Codec(model=model, name=name, rate=rate, rates=rates, checkpoint_id=checkpoint_id,
                 card=cards, device=device, realism=head.to(device) if head is not None else None)


def load_realism(folder: Path, config: DiTICConfig, check_hash: bool = True) -> tuple[TextureHead | None, dict]:
    """The realism decoder's texture head of a codec folder, with its card (``None, {}`` if none)."""
    path = folder / REALISM_FILE
    if not path.exists():
        return None, {}
    tensors, card = load_weights(path, check_hash)
    head = TextureHead(latent_channels=config.vae["latent_channels"], **card.get("head", {}))
    load_into(head, tensors, source=str(path))
    return head.eval().requires_grad_(False), card


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
