"""Cached latents: the frozen encoder's view of the training photos, for training in latent space.

From the third tiny tier on, the autoencoder's encoder (and the auxiliary encoder) is frozen for
good: the latent space never moves again. So the codec stages need no pixels: each photo is
encoded once, at two sizes and mirrored, and the stages train on random crops of the stored
latents (``DC-AE latent`` 32ch at /32 and ``latent2`` at /16). A codec step then runs neither the
pixel encoder nor the decoder, which makes it several times cheaper per image area (issue 20), and
crops can be large (a 512-px crop is a 16x16 latent, an 8x8 y grid, so most y positions are away
from a border).

The cache records the SHA-256 of the encoder it was made with (:func:`encoder_digest`); a stage
refuses a cache made by another encoder, and the model cards name the digest. Layout of
``runs/cache``::

    encoder.safetensors   the frozen encoder: vae.encoder.*, aux_codec.* (fp16-exact values)
    latents.safetensors   "<i>/latent", "<i>/latent2" per encoded view i
    index.json            encoder digest, scaling factor, and per view: photo, caption index, scale, flip
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..checkpoints import read_safetensors, write_safetensors
from ..images import load_image
from .data import VALIDATION, read_captions

ENCODER_FILE = "encoder.safetensors"  # the frozen encoder, in the cache folder
INDEX_FILE = "index.json"  # what the cache holds

ENCODER_PREFIXES = ("vae.encoder.", "aux_codec.")
CACHE_SIDES = (1024, 768)  # longer side of each view (the photos are stored at <= 1600 px)
MIN_SIDE = 512  # a view whose shorter side would fall below this is not cached
MULTIPLE = 32  # views are cropped to multiples of the latent's stride


class CacheMismatch(RuntimeError):
    """The cache was made by another encoder than the one the model holds."""


def encoder_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The frozen encoder's tensors (autoencoder encoder and auxiliary encoder)."""
    return {k: v for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIXES)}


def storage_exact(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors rounded to float16 values (kept in float32): what a shipped file holds exactly."""
    return {k: v.detach().half().float() if v.is_floating_point() else v.detach() for k, v in state.items()}


def encoder_digest(state: dict[str, torch.Tensor], scaling_factor: float) -> str:
    """SHA-256 (hex) of the encoder's tensors (names, shapes, float32 bytes) and the latent scale."""
    h = hashlib.sha256()
    for key in sorted(state):
        if not key.startswith(ENCODER_PREFIXES):
            continue
        t = state[key].detach().to(torch.float32).contiguous().cpu()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    h.update(repr(float(scaling_factor)).encode())
    return h.hexdigest()


def model_encoder_digest(model: torch.nn.Module) -> str:
    """:func:`encoder_digest` of a DiT-IC model as it is."""
    return encoder_digest(encoder_state(model), float(model.vae.config.scaling_factor))


def _views(image: Image.Image, sides: tuple[int, ...]) -> list[tuple[float, bool, Image.Image]]:
    """The scaled (and mirrored) copies of a photo, cropped to multiples of :data:`MULTIPLE`.

    Each view has the longer side given (never upscaled beyond the photo): the sizes at which the
    kit is evaluated (768x512) and a little above, so the codec learns the detail it will meet.
    """
    views = []
    for side in sides:
        scale = min(1.0, side / max(image.size))
        w, h = round(image.width * scale), round(image.height * scale)
        if min(w, h) < MIN_SIDE or any(v[0] == scale for v in views):
            continue
        im = image.resize((w, h), resample=Image.Resampling.LANCZOS) if scale != 1.0 else image
        w, h = (w // MULTIPLE) * MULTIPLE, (h // MULTIPLE) * MULTIPLE
        im = im.crop((0, 0, w, h))
        views += [(scale, False, im), (scale, True, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))]
    return views


@torch.no_grad()
def build_cache(model: torch.nn.Module, data: Path, cache: Path, sides: tuple[int, ...] = CACHE_SIDES,
                progress: bool = True) -> dict[str, Any]:
    """Encode every training photo of ``data`` (not :data:`VALIDATION`) with ``model``'s frozen
    encoder into ``cache``; returns the index. The encoder weights are first rounded to float16
    values, so the shipped (float16) file reproduces the cached latents exactly."""
    from tqdm.auto import tqdm

    rounded = storage_exact(encoder_state(model))
    model.load_state_dict(rounded, strict=False)
    model.eval()
    digest = model_encoder_digest(model)
    rows = [(rel, i) for i, (rel, _) in enumerate(r for r in read_captions(data) if r[0] not in VALIDATION)]
    tensors: dict[str, torch.Tensor] = {}
    views: list[dict[str, Any]] = []
    for rel, caption_index in tqdm(rows, desc="caching latents", disable=not progress):
        for scale, flip, im in _views(load_image(data / rel), sides):
            x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255.0
            latent, latent2 = model.encode_latents(x)
            key = str(len(views))
            tensors[f"{key}/latent"], tensors[f"{key}/latent2"] = latent[0].half(), latent2[0].half()
            views.append({"photo": rel, "caption": caption_index, "scale": scale, "flip": flip,
                          "latent_shape": list(latent.shape[1:])})
    cache.mkdir(parents=True, exist_ok=True)
    write_safetensors(rounded, cache / ENCODER_FILE)
    write_safetensors(tensors, cache / "latents.safetensors")
    index = {"encoder_sha256": digest, "scaling_factor": float(model.vae.config.scaling_factor),
             "photos": len(rows), "sides": list(sides), "views": views,
             "note": "latents stored as float16; the encoder's values are float16-exact"}
    (cache / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return index


def read_index(cache: Path) -> dict[str, Any]:
    """The cache's ``index.json``; a clear error when the cache was never built."""
    path = cache / INDEX_FILE
    if not path.exists():
        raise FileNotFoundError(f"no latent cache in {cache}: run `ditic-lite train cache` first")
    return json.loads(path.read_text())


def check_cache(cache: Path, digest: str) -> dict[str, Any]:
    """The index of ``cache`` if it was made by the encoder with ``digest``, else :class:`CacheMismatch`."""
    index = read_index(cache)
    if index["encoder_sha256"] != digest:
        raise CacheMismatch(
            f"the latent cache in {cache} was made by encoder {index['encoder_sha256'][:16]}, the model "
            f"holds encoder {digest[:16]}: rebuild it (`ditic-lite train cache`) or load its encoder")
    return index


class LatentCropDataset(torch.utils.data.Dataset):
    """Random aligned crops of cached views: ``(latent [32, s, s], latent2 [M, 2s, 2s], caption index)``.

    ``size`` is the crop side in latent pixels (16 = 512 image pixels); views smaller than that
    are skipped. Crops start at even latent positions. No flips here: a flipped latent is not what
    the encoder makes of a flipped photo, so the mirrored views are encoded (:func:`build_cache`).
    """

    def __init__(self, cache: Path, size: int, length: int = 10**9) -> None:
        index = read_index(cache)
        tensors = read_safetensors(cache / "latents.safetensors")
        self.views = [(tensors[f"{i}/latent"], tensors[f"{i}/latent2"], view["caption"])
                      for i, view in enumerate(index["views"])
                      if min(view["latent_shape"][1:]) >= size]
        if not self.views:
            raise ValueError(f"no cached view is at least {size} latent pixels on each side")
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        latent, latent2, caption = random.choice(self.views)
        s = self.size
        top = 2 * random.randint(0, (latent.shape[1] - s) // 2)
        left = 2 * random.randint(0, (latent.shape[2] - s) // 2)
        crop = latent[:, top:top + s, left:left + s].float()
        crop2 = latent2[:, 2 * top:2 * top + 2 * s, 2 * left:2 * left + 2 * s].float()
        return crop, crop2, caption
