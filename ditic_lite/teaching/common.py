"""Glue every notebook module of :mod:`ditic_lite.teaching` (and ``ditic_lite.evidence``) shares:
image forms and the latent grid of the DiT. First used in notebook ``01_quickstart``."""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..images import ImageLike, load_image, to_pil, to_tensor

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
    luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[0]
    gx = F.pad(luma[:, 1:] - luma[:, :-1], (0, 1))
    gy = F.pad(luma[1:, :] - luma[:-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx ** 2 + gy ** 2)
