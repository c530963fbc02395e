"""The realism decoder of the tiny tier: the same bytes, a decoder that draws texture.

The default ("fidelity") decoder was trained mostly for pixel error. Where the bits do not say
what the fine texture is, the answer that minimises the mean squared error is the average of all
textures that fit: a smooth, blurred patch. A generative decoder may instead *draw* a plausible
texture: it looks more like a photo but, since the drawn detail is not the original's, its
pixel error grows. That is the perception-distortion trade-off (Blau & Michaeli, CVPR 2018), and
what HiFiC and diffusion codecs such as DiT-IC buy with their adversarial and diffusion decoders.

The kit shows it on the tiny tier without touching the bitstream: the realism decoder is the
fidelity decoder followed by a small :class:`TextureHead`. From the fidelity image, the decoded
latent ``y_hat`` (which says what is where) and Gaussian noise (the texture's randomness, drawn
with a fixed seed so that decoding stays deterministic), the head predicts a residual that is
added to the image. It is trained with a patch discriminator at a *fixed* adversarial weight
(``ditic-lite train realism``, :mod:`ditic_lite.train_realism`) while a low-pass pixel loss keeps
the coarse picture of the fidelity decoder; files, entropy model and the fidelity decoder are
unchanged. ``codec.decompress(data, decoder="realism")`` decodes with it.

The head works at 1/4 of the image side: the image is folded into 4x4 blocks (pixel unshuffle),
``y_hat`` is upsampled 8x to the same grid, and the residual is unfolded back (pixel shuffle), so
a few 3x3 convolutions cover a wide window at a small cost.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

if TYPE_CHECKING:
    from .codec import Codec
    from .images import ImageLike

REALISM_FILE = "realism.safetensors"  # beside the tiny tier's shared weights
NOISE_SEED = 0  # decoding draws the head's noise with this seed: the same file gives the same image
FOLD = 4  # the head's grid: 1/4 of the image side


class TextureHead(nn.Module):
    """``(image in [0, 1], y_hat at 1/32, noise at 1/4) -> image in [0, 1]`` with texture added.

    The last convolution starts at zero, so an untrained head returns the fidelity image.
    """

    def __init__(self, latent_channels: int = 32, width: int = 32, noise_channels: int = 8,
                 blocks: int = 4) -> None:
        super().__init__()
        self.arch = dict(width=width, noise_channels=noise_channels, blocks=blocks)  # recorded in the card
        self.noise_channels = noise_channels
        folded = 3 * FOLD * FOLD
        self.inp = nn.Conv2d(folded + latent_channels + noise_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1),
                                                  nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1))
                                    for _ in range(blocks))
        self.out = nn.Conv2d(width, folded, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: torch.Tensor, y_hat: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        folded = F.pixel_unshuffle(image * 2 - 1, FOLD)
        scale = folded.shape[-1] // y_hat.shape[-1]
        latent = F.interpolate(y_hat, scale_factor=scale, mode="nearest")
        h = self.inp(torch.cat([folded, latent, noise], dim=1))
        for block in self.blocks:
            h = h + block(h)
        residual = F.pixel_shuffle(self.out(F.leaky_relu(h, 0.2)), FOLD)
        return (image + 0.5 * residual).clamp(0, 1)

    def noise_for(self, image: torch.Tensor, seed: int | None = NOISE_SEED) -> torch.Tensor:
        """Gaussian noise on the head's grid for ``image`` (N, 3, H, W): drawn with ``seed`` on the
        CPU (the same numbers on every machine and thread count), or at random with ``seed=None``."""
        n, _, h, w = image.shape
        shape = (n, self.noise_channels, h // FOLD, w // FOLD)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(shape, generator=generator).to(image)


def compare_decoders(codec: "Codec", photos: Mapping[str, "ImageLike"], rates: Sequence[int] | None = None,
                     heads: dict[str, TextureHead] | None = None) -> pd.DataFrame:
    """Code each photo (``name -> image or path``) once per rate point and decode the SAME bytes
    with every decoder.

    ``heads`` maps a label to a texture head (default: ``{"realism": codec.realism}``); the
    fidelity decoder is always there. One row per photo, rate point and decoder: ``bytes``,
    ``bpp``, ``psnr``, ``ms_ssim``, the Laplacian detail measures
    (:func:`ditic_lite.spectrum.laplacian_detail`) and ``decode_s`` (the whole decode).
    """
    from . import zoo
    from .images import to_pil, to_tensor
    from .metrics import bits_per_pixel, ms_ssim, psnr
    from .spectrum import laplacian_detail

    heads = heads if heads is not None else {"realism": codec.realism}
    if any(h is None for h in heads.values()):
        raise ValueError(f"'{codec.name}' has no realism decoder to compare")
    shipped = codec.realism
    rows: list[dict[str, Any]] = []
    try:
        for rate in rates if rates is not None else codec.rates:
            coder = codec if rate == codec.rate else zoo.load(codec.name, rate=rate, device=codec.device)
            for name, photo in photos.items():
                image = to_pil(to_tensor(photo))
                data = coder.compress(image)
                for label, head in {"fidelity": None, **heads}.items():
                    coder.realism = head  # the same bytes, decoded with this head
                    tic = time.perf_counter()
                    decoded = coder.decompress(data, decoder="fidelity" if head is None else "realism")
                    seconds = time.perf_counter() - tic
                    rows.append({"image": name, "rate": rate, "decoder": label, "bytes": len(data),
                                 "bpp": bits_per_pixel(len(data), image.height, image.width),
                                 "psnr": psnr(image, decoded), "ms_ssim": ms_ssim(image, decoded),
                                 **laplacian_detail(image, decoded), "decode_s": seconds})
    finally:
        codec.realism = shipped
    return pd.DataFrame(rows)
