"""The realism decoder of the tiny tier: the same bytes, a decoder that draws texture.

The default ("fidelity") decoder was trained mostly for pixel error. Where the bits do not say
what the fine texture is, the answer that minimises the mean squared error is the average of all
textures that fit: a smooth, blurred patch. A generative decoder may instead *draw* a plausible
texture: it looks more like a photo but, since the drawn detail is not the original's, its
pixel error grows. That is the perception-distortion trade-off (Blau & Michaeli, CVPR 2018), and
what HiFiC and diffusion codecs such as DiT-IC buy with their adversarial and diffusion decoders.

The kit shows it on the tiny tier without touching the bitstream: the realism decoder is the
fidelity decoder followed by a small :class:`TextureHead`. From the fidelity image, the decoded
latent ``y_hat`` (which says what is where), the pseudo-timestep map ``sigma_map`` of the
variance-guided flow (how unsure the entropy model was, position by position: where the file
leaves the most out) and Gaussian noise (the texture's randomness, drawn with a fixed seed so that
decoding stays deterministic), the head predicts a residual that is added to the image. It is trained with a patch discriminator at a *fixed* adversarial weight
(``ditic-lite train realism``, :mod:`ditic_lite.training.stages.realism`) while a low-pass pixel loss keeps
the coarse picture of the fidelity decoder; files, entropy model and the fidelity decoder are
unchanged. ``codec.decompress(data, decoder="realism")`` decodes with it; ``evaluate.compare_decoders``
measures both decoders on the same files.

The head thinks at 1/4 of the image side (the image folded into 4x4 blocks, ``y_hat`` upsampled
8x to the same grid), so a few 3x3 convolutions cover a wide window at a small cost; it draws at
full size. (A first head that unfolded its residual from the 4x4 grid drew a regular 4x4 pattern
everywhere instead of texture: ``data/results/realism_experiments.csv``.)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from PIL import Image

from .images import ImageLike, luma, to_pil, to_tensor

REALISM_FILE = "realism.safetensors"  # beside the tiny tier's shared weights
NOISE_SEED = 0  # decoding draws the head's noise with this seed: the same file gives the same image
FOLD = 4  # the head's grid: 1/4 of the image side
DETAIL_WINDOW = 7  # local_detail's window (pixels)
DETAIL_SCALE = 100.0  # local_detail's scale: 0.3 to 1 in the textured places of a decoded photo
UNSHARP_AMOUNT = 4.0  # sharpen_detail's default: it meets the four measure targets on the held-out photos


def high_pass(image: torch.Tensor) -> torch.Tensor:
    """``image`` minus its 3x3 mean, channel by channel: the finest detail of (N, C, H, W)."""
    return image - F.avg_pool2d(image, 3, stride=1, padding=1, count_include_pad=False)


def local_detail(image: torch.Tensor) -> torch.Tensor:
    """The fine-detail amplitude of ``image`` (N, 3, H, W in [0, 1]) around each pixel, (N, 1, H, W):
    the RMS of :func:`high_pass` of its luma over a :data:`DETAIL_WINDOW` window, times
    :data:`DETAIL_SCALE`. Zero on a flat patch, larger where edges and texture are."""
    power = F.avg_pool2d(high_pass(luma(image)) ** 2, DETAIL_WINDOW, stride=1, padding=DETAIL_WINDOW // 2,
                         count_include_pad=False)
    return DETAIL_SCALE * (power + 1e-8).sqrt()


def sharpen_detail(image: ImageLike, amount: float = UNSHARP_AMOUNT) -> Image.Image:
    """A yardstick for the detail measures, not a decoder: an unsharp mask whose strength follows
    the image's own local detail, ``image + amount * local_detail * high_pass(image)``.

    It needs no training and draws no texture: it only makes the detail the image already has
    (edges, and the decoder's own faint patterns) stronger, more where there is more of it, none
    on a flat sky. On the fidelity decoder's output it meets the numeric targets of the realism
    decoder (detail ratio, block correlation, flat-block ratio, PSNR cost), which is why those
    numbers alone cannot show realism: notebook 08 puts it beside the realism decoder."""
    x = to_tensor(image)
    return to_pil(x + amount * local_detail(x) * high_pass(x))


class TextureHead(nn.Module):
    """``(image in [0, 1], y_hat and sigma_map at 1/32, noise at full size) -> image in [0, 1]`` with
    texture added.

    Features are computed at 1/4 of the image side (the image folded into 4x4 blocks, ``y_hat``
    and ``sigma_map`` upsampled); a smooth correction and a gate are read off them and upsampled bilinearly to full
    size, where the residual is

    ``r = smooth + gate * conv(noise)``:

    a smooth correction plus filtered noise whose strength the features set at every pixel (no
    texture on a clear sky, much in grass). With ``sharpen=True`` a third term,
    ``+ gain * conv(image)``, lets the head also strengthen the detail the fidelity image already
    shows (blurred edges, faint texture) at full size, with a gain the features set per pixel. With
    ``follow_detail=True`` the noise's strength is also multiplied by the fidelity image's own local
    detail (:func:`local_detail`): texture goes where the decoded image already has some, more where
    it has more, and none on a flat sky (``detail_power=2``: in proportion to its square, which
    favours the most textured places more). The output convolutions start at zero, so an untrained head
    returns the fidelity image.
    """

    def __init__(self, latent_channels: int = 32, width: int = 32, noise_channels: int = 4,
                 blocks: int = 4, sharpen: bool = False, follow_detail: bool = False,
                 detail_power: int = 1) -> None:
        super().__init__()
        self.arch = dict(width=width, noise_channels=noise_channels, blocks=blocks)  # recorded in the card
        self.arch.update({name: True for name, on in (("sharpen", sharpen), ("follow_detail", follow_detail)) if on})
        if follow_detail and detail_power != 1:
            self.arch["detail_power"] = detail_power
        self.follow_detail, self.detail_power = follow_detail, detail_power
        self.noise_channels = noise_channels
        self.inp = nn.Conv2d(3 * FOLD * FOLD + 2 * latent_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1),
                                                  nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1))
                                    for _ in range(blocks))
        self.smooth = nn.Conv2d(width, 3, 3, padding=1)  # the smooth correction
        self.gate = nn.Conv2d(width, 3, 1)  # the texture's strength per pixel and colour
        self.texture = nn.Conv2d(noise_channels, 3, 3, padding=1)  # the texture's look (filtered noise)
        self.sharpen = sharpen
        if sharpen:
            self.gain = nn.Conv2d(width, 3, 1)  # how much of the image's own detail to add, per pixel
            self.detail = nn.Conv2d(3, 3, 3, padding=1, bias=False)  # the image's detail at full size
        for conv in (self.smooth, self.gate, *((self.gain,) if sharpen else ())):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, image: torch.Tensor, y_hat: torch.Tensor, sigma_map: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        folded = F.pixel_unshuffle(image * 2 - 1, FOLD)
        scale = folded.shape[-1] // y_hat.shape[-1]
        latents = torch.cat([y_hat, sigma_map], dim=1)
        h = self.inp(torch.cat([folded, F.interpolate(latents, scale_factor=scale, mode="nearest")], dim=1))
        for block in self.blocks:
            h = h + block(h)
        h = F.leaky_relu(h, 0.2)
        up = lambda conv: F.interpolate(conv(h), scale_factor=FOLD, mode="bilinear", align_corners=False)
        texture = self.texture(noise) * (local_detail(image) ** self.detail_power if self.follow_detail else 1.0)
        residual = up(self.smooth) + up(self.gate) * texture
        if self.sharpen:
            residual = residual + up(self.gain) * self.detail(image * 2 - 1)
        return (image + 0.5 * residual).clamp(0, 1)

    def noise_for(self, image: torch.Tensor, seed: int | None = NOISE_SEED) -> torch.Tensor:
        """Gaussian noise at the size of ``image`` (N, 3, H, W): drawn with ``seed`` on the CPU
        (the same numbers on every machine and thread count), or at random with ``seed=None``."""
        n, _, h, w = image.shape
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn((n, self.noise_channels, h, w), generator=generator).to(image)
