"""Checkpoint files: model cards, hashes, safetensors I/O and fitting tensors to a model.

One module for what every loader shares: the shipped tiers (:mod:`ditic_lite.zoo`), the official
release (:mod:`ditic_lite.official`), training runs (:mod:`ditic_lite.training.loop`) and their export
(:mod:`ditic_lite.training.export`). A shipped weights file ``X.safetensors`` has a JSON model card
``X.json`` beside it that records the file's SHA-256, checked at load.

The rANS tables of the entropy models (:data:`ENTROPY_TABLE_KEYS`) are never compared or
loaded: their sizes depend on the trained weights and ``codec.update(force=True)`` recomputes
them after every load (SPEC 2, 4.6).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .data import sha256_file

__all__ = [
    "CheckpointError", "ENTROPY_TABLE_BUFFERS", "ENTROPY_TABLE_KEYS", "is_entropy_table", "sha256_file",
    "read_card", "read_safetensors", "write_safetensors", "load_weights", "save_weights",
    "KeyMismatch", "key_mismatch", "load_into",
]


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated, tampered with or does not fit the model."""


ENTROPY_TABLE_BUFFERS = (
    "entropy_bottleneck._offset", "entropy_bottleneck._quantized_cdf", "entropy_bottleneck._cdf_length",
    "gaussian_conditional._offset", "gaussian_conditional._quantized_cdf",
    "gaussian_conditional._cdf_length", "gaussian_conditional.scale_table",
)
"""The rANS table buffers of the latent codec (compressai), relative to the codec."""

ENTROPY_TABLE_KEYS = tuple(f"codec.{name}" for name in ENTROPY_TABLE_BUFFERS)
"""Their keys in a model's state dict: recomputed after loading, never stored in shipped files."""


def is_entropy_table(key: str) -> bool:
    """Whether a state-dict key is one of the entropy coder's tables (:data:`ENTROPY_TABLE_KEYS`)."""
    return key in ENTROPY_TABLE_KEYS


# ------------------------------------------------------------------------------------ files
def read_card(weights: Path) -> dict[str, Any]:
    """The model card ``weights.json`` beside a weights file; it must record the file's sha256."""
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


def read_safetensors(path: Path, error: type[CheckpointError] = CheckpointError) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file as stored; a damaged file raises ``error`` naming it."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise error(f"{Path(path).name}: not a valid safetensors file ({err})") from None


def write_safetensors(tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    """Write tensors as they are (contiguous copies where needed), e.g. a run's model state."""
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def load_weights(path: Path, check_hash: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a shipped safetensors file after checking its SHA-256 against the card; float32 tensors."""
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
    tensors = read_safetensors(path)
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, card


def save_weights(tensors: Mapping[str, torch.Tensor], path: Path, card: dict[str, Any],
                 dtype: torch.dtype = torch.float16) -> dict[str, Any]:
    """Write tensors (floats stored as ``dtype``) and the card with the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).contiguous().cpu()
              for k, v in tensors.items()}
    save_file(stored, str(path))
    card = dict(card, file=path.name, sha256=sha256_file(path), storage_dtype=str(dtype).replace("torch.", ""))
    write_card(path.with_suffix(".json"), card)
    return card


def json_safe(obj: Any) -> Any:
    """NaN and infinities -> null, in nested dicts and lists, so that the JSON is strict (readable by any parser)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_card(path: Path, card: Mapping[str, Any]) -> None:
    """Write a model card (or any measured record) as strict, indented JSON (:func:`json_safe`)."""
    Path(path).write_text(json.dumps(json_safe(dict(card)), indent=1))


# ------------------------------------------------------------------------------------ fitting
@dataclass
class KeyMismatch:
    """How a set of tensors fails to fit a model's state dict (entropy tables left out)."""

    missing: list[str]  # required keys the tensors lack
    unexpected: list[str]  # tensors the model has no place for
    wrong_shape: list[str]  # keys in both whose shapes differ, in the model's order

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)

    def describe(self, shown: int = 3) -> str:
        """``missing: a, b, c ...; wrong shape: d`` (the first ``shown`` keys of each kind)."""
        return "; ".join(f"{label}: {', '.join(keys[:shown])}{' ...' if len(keys) > shown else ''}"
                         for label, keys in (("missing", self.missing), ("unexpected", self.unexpected),
                                             ("wrong shape", self.wrong_shape)) if keys)


def key_mismatch(own: Mapping[str, torch.Tensor], tensors: Mapping[str, torch.Tensor],
                 required: Iterable[str] | None = None) -> KeyMismatch:
    """Compare ``tensors`` with a model's state dict ``own``.

    ``required``: the keys that must be present (default every key of ``own``). Entropy tables
    are never required and their shapes never compared.
    """
    required = own if required is None else required
    return KeyMismatch(
        missing=[k for k in required if k not in tensors and not is_entropy_table(k)],
        unexpected=[k for k in tensors if k not in own],
        wrong_shape=[k for k in own if k in tensors and not is_entropy_table(k) and tensors[k].shape != own[k].shape],
    )


def load_into(model: torch.nn.Module, tensors: Mapping[str, torch.Tensor], required: Iterable[str] | None = None,
              source: str = "checkpoint") -> None:
    """Load ``tensors`` into ``model`` after checking that they fit (:func:`key_mismatch`).

    Keys of the model not in ``tensors`` keep their values; entropy tables are not loaded (call
    ``codec.update(force=True)`` afterwards). Raises :class:`CheckpointError` naming ``source``.
    """
    problems = key_mismatch(model.state_dict(), tensors, required)
    if problems:
        raise CheckpointError(f"{source} does not fit the model ({problems.describe()})")
    model.load_state_dict({k: v for k, v in tensors.items() if not is_entropy_table(k)}, strict=False)
