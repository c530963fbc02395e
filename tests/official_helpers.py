"""Helpers for the official-tier tests: fixture paths, the manifest, and the reference weight fill.

``fast_fill_`` writes the same values as ``fixtures/official/fill.py`` (its rules via
``fill_rule``, its hash in uint32 NumPy arithmetic, which wraps modulo 2**32 by definition) about
2.5x faster than the reference int64 version; ``test_official.py`` checks the two agree.
"""
from __future__ import annotations

import csv
import importlib.util
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

OFFICIAL = Path(__file__).resolve().parent / "fixtures" / "official"
GOLDENS = OFFICIAL / "goldens"
ATOL = RTOL = 1e-4  # goldens.json: suggested check for float tensors


@lru_cache(maxsize=1)
def load_fill():
    """The reference ``fill.py`` (a fixture file, not a package)."""
    spec = importlib.util.spec_from_file_location("official_fill", OFFICIAL / "fill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alias_keys() -> set[str]:
    with open(OFFICIAL / "state_dict_notes.tsv") as f:
        return {r["key"] for r in csv.DictReader(f, delimiter="\t") if r["note"].startswith("alias")}


def manifest_rows(prefix: str = "", required_only: bool = True, aliases: bool = False) -> list[dict[str, str]]:
    """Manifest rows under ``prefix`` in file order (by default required, without alias keys)."""
    skip = set() if aliases else alias_keys()
    with open(OFFICIAL / "state_dict_manifest.tsv") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["key"].startswith(prefix)
                and (r["role"] == "required" or not required_only) and r["key"] not in skip]


def shape_str(t: torch.Tensor) -> str:
    """Shape in the manifest's notation (``128x32x3x3``, ``scalar``)."""
    return "x".join(str(s) for s in t.shape) if t.ndim else "scalar"


def _hash_uniform(numel: int, seed: int) -> np.ndarray:
    x = np.arange(numel, dtype=np.uint32)
    x *= np.uint32(0x61C88647)
    x += np.uint32(seed)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x5BD1E995)
    x ^= x >> np.uint32(16)
    u = x.astype(np.float64)
    u *= 2.0 ** -31
    u -= 1.0
    return u


def fast_fill_value(key: str, shape, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
    """Same as ``fill.fill_value(key, shape, dtype)`` (None for tensors the fill keeps)."""
    rule = load_fill().fill_rule(key, shape)
    if rule is None:
        return None
    base, amp = rule
    u = _hash_uniform(int(np.prod(shape, dtype=np.int64)), zlib.crc32(key.encode("utf-8")))
    u *= amp
    u += base
    return torch.from_numpy(u).to(dtype).reshape(tuple(shape))


@torch.no_grad()
def fast_fill_(module: torch.nn.Module, prefix: str = "") -> int:
    """Fill ``module`` like ``fill.fill_(module, prefix)``; returns the number of tensors filled."""
    sd = module.state_dict(keep_vars=True)
    n = 0
    for key in sorted(sd):
        t = sd[key]
        if not torch.is_tensor(t) or not t.is_floating_point() or t.numel() == 0:
            continue
        value = fast_fill_value(prefix + key, t.shape, t.dtype)
        if value is not None:
            t.data.copy_(value)
            n += 1
    return n
