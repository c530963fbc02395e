"""Glue every notebook module of :mod:`ditic_lite.teaching` (and ``ditic_lite.evidence``) shares:
image forms, the latent grid of the DiT and where to zoom on a photo (:func:`zoom_box`,
:func:`subject_box`). First used in notebook ``01_quickstart``."""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..images import LUMA_WEIGHTS, ImageLike, load_image, to_pil, to_tensor

LATENT_FACTOR = 32  # the DiT works at 1/32 of the image size (DC-AE f32)


def as_pil(img: ImageLike) -> Image.Image:
    """Any image form the kit accepts (PIL, array, tensor in [0, 1], path) as an RGB PIL image.
    Used by every notebook, e.g. ``01_quickstart``."""
    if isinstance(img, (str, Path)):
        return load_image(img)
    return img if isinstance(img, Image.Image) else to_pil(to_tensor(img))


def latent_size(height: int, width: int) -> tuple[int, int]:
    """Latent pixels ``(rows, cols)`` that cover a ``height`` x ``width`` image (the rest is padding).
    Used by notebooks ``02_variance_and_pseudo_timesteps`` and ``06_alignment_mechanisms``."""
    return math.ceil(height / LATENT_FACTOR), math.ceil(width / LATENT_FACTOR)


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Luma gradient magnitude (finite differences) of a 1x3xHxW image in [0, 1] -> HxW.
    Used by notebooks ``01_quickstart`` (zoom box) and ``02_variance_and_pseudo_timesteps`` (texture)."""
    r, g, b = LUMA_WEIGHTS
    luma = (r * x[:, 0] + g * x[:, 1] + b * x[:, 2])[0]
    gx = F.pad(luma[:, 1:] - luma[:, :-1], (0, 1))
    gy = F.pad(luma[1:, :] - luma[:-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx ** 2 + gy ** 2)


def zoom_box(image: ImageLike, size: int = 128) -> tuple[int, int, int]:
    """``(x, y, size)`` of the most textured ``size`` x ``size`` square (mean gradient magnitude),
    on a grid of half-overlapping squares: where compression artefacts show first.

    Explained in notebook ``01_quickstart``.
    """
    tex = gradient_magnitude(to_tensor(image))
    h, w = tex.shape
    size = min(size, h, w)
    stride = max(size // 2, 1)
    best, best_xy = -1.0, (0, 0)
    for top in range(0, h - size + 1, stride):
        for left in range(0, w - size + 1, stride):
            v = float(tex[top:top + size, left:left + size].mean())
            if v > best:
                best, best_xy = v, (left, top)
    return best_xy[0], best_xy[1], size


SUBJECTS: dict[str, tuple[tuple[int, int, int], str]] = {
    "kite": ((482, 137, 96), "the kite: its colour bands and its sharp edges against the sky"),
    "ladybird": ((486, 203, 128), "the ladybird: its spots, legs and shine, and the edge of the stalk"),
    "balloons": ((300, 330, 128), "the baskets and the people in them, under the big balloon"),
}
"""The subject of each sample photo (``data/samples``, 768x512): zoom box ``(x, y, size)`` found by
looking at the photo (the kite spans x 503-557, y 163-208), and what to look for in it."""


def subject_box(image: ImageLike, photo: str | Path | None = None,
                size: int = 128) -> tuple[tuple[int, int, int], str]:
    """Where to zoom on ``image`` and what to look for there: ``((x, y, size), words)``. For a
    sample photo (``photo`` names it: ``"kite"`` or its path) the stored box of its subject
    (:data:`SUBJECTS`); for any other photo the most textured square (:func:`zoom_box`).
    Used by ``ditic-lite demo``; explained in notebook ``01_quickstart``."""
    from ..notebook import photo_path, samples_dir

    pil = as_pil(image)
    if photo is not None:
        path = photo_path(photo)
        for name, (box, words) in SUBJECTS.items():
            try:
                sample = samples_dir() / f"{name}.png"
            except FileNotFoundError:
                break
            if path.resolve() == sample.resolve() and pil.size == (768, 512):
                return box, words
    box = zoom_box(pil, min(size, pil.width, pil.height))
    return box, f"the most textured {box[2]}x{box[2]} square, where a low rate loses fine detail first"
