"""Baseline codecs behind the kit's one codec interface (``registry.CodecLike``).

Every codec has ``name``, ``rates`` (rate ids), ``compress(img) -> bytes`` and
``decompress(data, steps=1) -> PIL.Image``; :func:`get_codec` builds any codec of the registry
(``ditic_lite.registry``) that needs nothing but its name and a rate id:

* ``jpeg``, ``webp``, ``avif``: Pillow at a quality from a fixed ladder per rate id, or hit a
  target bits per pixel with :meth:`PillowCodec.at_bpp` (binary search over quality);
* ``jpeg-ds``, ``webp-ds``, ``avif-ds``: the same formats on a downscaled copy, upscaled after
  decoding (:class:`DownscaledPillowCodec`): how a classical codec reaches the DiT-IC rates
  (< 0.1 bpp), below the size of its quality-0 file;
* ``tiny`` (DiT-IC tiny) and ``mse`` (same latent codec, plain decoder): ``ditic_lite.load``;
* CompressAI zoo models (``bmshj2018-hyperprior``, ``mbt2018-mean``, ``cheng2020-anchor``, ...),
  MSE-optimised, with pretrained weights downloaded by CompressAI (``BaselineUnavailable`` offline).

Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from typing import Callable

import torch
from PIL import Image
from PIL import features as pil_features

from . import container
from .images import ImageLike, pad_to_multiple, to_pil, to_rgb, to_tensor
from .metrics import WeightsUnavailable, psnr, weights_download
from .registry import CODECS, COMPRESSAI, PILLOW, TINY, CodecEntry, CodecLike, find, names


class BaselineUnavailable(WeightsUnavailable):
    """A baseline cannot run here: missing encoder support or weights that cannot be fetched."""


def _as_pil(img: ImageLike) -> Image.Image:
    return to_rgb(img) if isinstance(img, Image.Image) else to_pil(to_tensor(img))


# ---------------------------------------------------------------------------------------------
# Pillow: JPEG, WebP, AVIF
# ---------------------------------------------------------------------------------------------

QUALITY_RANGE = {"jpeg": (1, 95), "webp": (0, 100), "avif": (0, 100)}  # Pillow's usable range
_PIL_FORMAT = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
# views of the registry's rate settings: quality per rate id, and (scale, quality) of ``<format>-ds``
LADDERS = {fmt: CODECS[fmt].rate_settings for fmt in _PIL_FORMAT}
DOWNSCALED_LADDER = CODECS["jpeg-ds"].rate_settings


def _check_avif() -> None:
    if pil_features.check("avif"):
        return
    try:
        import pillow_avif  # noqa: F401  (registers the plugin)
    except ImportError:
        raise BaselineUnavailable(
            "AVIF needs Pillow built with libavif (Pillow >= 11.3 wheels) or the pillow-avif-plugin package"
        ) from None


@dataclass
class PillowCodec:
    """A still-image format through Pillow at a fixed quality (standard settings, 4:2:0 chroma)."""

    format: str = "jpeg"
    quality: int = 75

    def __post_init__(self) -> None:
        if self.format not in _PIL_FORMAT:
            raise ValueError(f"unknown Pillow format {self.format!r}; choose from {sorted(_PIL_FORMAT)}")
        if self.format == "avif":
            _check_avif()
        lo, hi = QUALITY_RANGE[self.format]
        if not lo <= self.quality <= hi:
            raise ValueError(f"{self.format} quality must be in [{lo}, {hi}], got {self.quality}")

    @property
    def name(self) -> str:
        return self.format

    @property
    def rates(self) -> list[int]:
        return codec_rates(self.name)

    def encode(self, img: ImageLike, quality: int) -> bytes:
        """Encode at ``quality`` -> the file bytes."""
        buf = io.BytesIO()
        _as_pil(img).save(buf, format=_PIL_FORMAT[self.format], quality=int(quality))
        return buf.getvalue()

    def decode(self, data: bytes) -> Image.Image:
        """File bytes -> RGB image."""
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("RGB")

    def compress(self, img: ImageLike) -> bytes:
        return self.encode(img, self.quality)

    def decompress(self, data: bytes, steps: int = 1) -> Image.Image:
        return self.decode(data)  # ``steps`` only matters for diffusion codecs

    def at_bpp(self, img: ImageLike, target_bpp: float) -> tuple[bytes, int]:
        """Highest quality whose file is at most ``target_bpp`` -> (bytes, quality).

        Binary search over the integer quality (file size grows with quality). If even the lowest
        quality is above the target, that lowest-quality file is returned.
        """
        pil = _as_pil(img)
        found = _highest_quality(lambda q: self.encode(pil, q), QUALITY_RANGE[self.format],
                                 target_bpp * pil.height * pil.width)
        if found is None:
            q = QUALITY_RANGE[self.format][0]
            found = (self.encode(pil, q), q)
        return found


def _highest_quality(encode: Callable[[int], bytes], qrange: tuple[int, int], max_bits: float) -> tuple[bytes, int] | None:
    """Binary search: the highest quality in ``qrange`` whose file has at most ``max_bits``."""
    lo, hi = qrange
    best = None
    while lo <= hi:
        q = (lo + hi) // 2
        data = encode(q)
        if 8 * len(data) <= max_bits:
            best, lo = (data, q), q + 1
        else:
            hi = q - 1
    return best


# scales tried by DownscaledPillowCodec.at_bpp (side length factors)
DOWNSCALES = (1.0, 0.8, 0.65, 0.5, 0.4, 0.32, 0.25, 0.2, 0.16, 0.125)
_SIZE_HEADER = struct.Struct(">HH")  # original width, height


@dataclass
class DownscaledPillowCodec(PillowCodec):
    """A Pillow format on a copy downscaled by ``scale`` (Lanczos), upscaled again after decoding.

    Pillow cannot make a JPEG or WebP file smaller than its quality-0 file (about 0.1-0.16 bpp on
    768x512 photos); shrinking the image first is how a classical codec reaches the rates of
    DiT-IC. A file is the original width and height (2 x uint16, counted in the bpp) followed by
    the format's bytes, so every file decodes to the original size whatever scale made it.
    """

    scale: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")

    @property
    def name(self) -> str:
        return f"{self.format}-ds"

    def encode(self, img: ImageLike, quality: int, scale: float | None = None) -> bytes:
        """Downscale by ``scale`` (default ``self.scale``), encode at ``quality`` -> the file bytes."""
        pil = _as_pil(img)
        s = self.scale if scale is None else scale
        if pil.width > 65535 or pil.height > 65535:
            raise ValueError(f"{self.name} files hold sides up to 65535 px, got {pil.width}x{pil.height}")
        small = pil.resize((max(1, round(pil.width * s)), max(1, round(pil.height * s))), Image.LANCZOS)
        return _SIZE_HEADER.pack(pil.width, pil.height) + super().encode(small, quality)

    def decode(self, data: bytes) -> Image.Image:
        if len(data) <= _SIZE_HEADER.size:
            raise container.DecodeError(f"{self.name} file too short ({len(data)} bytes)")
        width, height = _SIZE_HEADER.unpack_from(data)
        if width == 0 or height == 0:
            raise container.DecodeError(f"{self.name} file declares an empty image")
        small = super().decode(data[_SIZE_HEADER.size:])
        return small if small.size == (width, height) else small.resize((width, height), Image.LANCZOS)

    def at_bpp(self, img: ImageLike, target_bpp: float) -> tuple[bytes, int]:
        """Best file of at most ``target_bpp`` over :data:`DOWNSCALES` x quality -> (bytes, quality).

        For each scale, the highest quality that fits (binary search); of those, the file whose
        decoded image has the highest PSNR against ``img``. If nothing fits, the smallest file.
        """
        pil = _as_pil(img)
        max_bits = target_bpp * pil.height * pil.width
        best, best_psnr = None, -float("inf")
        for s in DOWNSCALES:
            found = _highest_quality(lambda q: self.encode(pil, q, s), QUALITY_RANGE[self.format], max_bits)
            if found is None:
                continue
            score = psnr(pil, self.decode(found[0]))
            if score > best_psnr:
                best, best_psnr = found, score
        if best is None:
            q = QUALITY_RANGE[self.format][0]
            best = (self.encode(pil, q, DOWNSCALES[-1]), q)
        return best


# ---------------------------------------------------------------------------------------------
# CompressAI zoo (pretrained MSE models)
# ---------------------------------------------------------------------------------------------

ZOO_PAD = 64  # the zoo's hyperprior models downsample by 64


class ZooCodec:
    """A CompressAI zoo model at one quality, coding into the kit's ``.ditic`` container.

    The container (``ditic_lite.container``) adds about 40 bytes of header to the two rANS
    streams; they count in the bpp like every other file. ``pretrained=False`` gives random
    weights (for tests of the wiring only).
    """

    def __init__(self, name: str, quality: int, pretrained: bool = True, device: str = "cpu"):
        from compressai.zoo import image_models
        from compressai.zoo.image import cfgs

        name = name.replace("_", "-")
        if name not in cfgs:
            raise ValueError(f"unknown CompressAI zoo model {name!r}; choose from {sorted(cfgs)}")
        if quality not in cfgs[name]:
            raise ValueError(f"{name} qualities are {sorted(cfgs[name])}, got {quality}")
        self.name, self.quality, self.device = name, quality, device
        self.rates = [q - 1 for q in sorted(cfgs[name])]
        with weights_download(f"{name} q{quality}", "CompressAI's pretrained weights", BaselineUnavailable):
            model = image_models[name](quality=quality, pretrained=pretrained)
        if not pretrained:
            model.update(force=True)
        self.model = model.eval().to(device)
        self._id = hashlib.sha256(f"{name}-{quality}-{pretrained}".encode()).digest()[:8]

    @torch.no_grad()
    def compress(self, img: ImageLike) -> bytes:
        x = to_tensor(img).to(self.device)
        h, w = x.shape[-2:]
        out = self.model.compress(pad_to_multiple(x, ZOO_PAD))
        streams = [s[0] for s in out["strings"]]
        header = container.Header(model=self.name, checkpoint_id=self._id, rate=self.quality - 1, height=h, width=w)
        return container.pack(header, streams)

    @torch.no_grad()
    def decompress(self, data: bytes, steps: int = 1) -> Image.Image:
        header, streams = container.unpack(data)
        if header.model != self.name or header.checkpoint_id != self._id:
            raise container.DecodeError(f"file was coded by {header.model}, not by {self.name} q{self.quality}")
        ph, pw = -(-header.height // ZOO_PAD) * ZOO_PAD, -(-header.width // ZOO_PAD) * ZOO_PAD
        out = self.model.decompress([[s] for s in streams], (ph // ZOO_PAD, pw // ZOO_PAD))
        return to_pil(out["x_hat"][..., : header.height, : header.width])


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------

def codec_names() -> list[str]:
    """Every name :func:`get_codec` accepts: the registry's codecs built from a name alone."""
    return [name for name in names() if find(name).from_name]


def _entry(name: str) -> CodecEntry:
    """The registry entry of ``name`` (any case, ``_`` for ``-``) that :func:`get_codec` builds."""
    entry = find(name.lower().replace("_", "-"))
    if entry is None or not entry.from_name:
        raise ValueError(f"unknown codec {name!r}; choose from {codec_names()}")
    return entry


def pillow_codec(name: str, rate: int | None = None) -> PillowCodec:
    """``jpeg`` / ``webp`` / ``avif`` at quality ``LADDERS[name][rate]``, or a ``-ds`` variant at
    ``DOWNSCALED_LADDER[rate]``; ``rate=None`` gives the default settings (for :meth:`at_bpp`)."""
    fmt, downscaled = (name[:-3], True) if name.endswith("-ds") else (name, False)
    ladder = CODECS[name].rate_settings
    if rate is not None and not 0 <= rate < len(ladder):
        raise ValueError(f"{name} rate ids are 0..{len(ladder) - 1}, got {rate}")
    if not downscaled:
        return PillowCodec(fmt) if rate is None else PillowCodec(fmt, ladder[rate])
    return DownscaledPillowCodec(fmt) if rate is None else DownscaledPillowCodec(fmt, ladder[rate][1], ladder[rate][0])


def get_codec(name: str, rate: int = 0, **kwargs) -> CodecLike:
    """Build codec ``name`` at rate id ``rate`` (0 = lowest rate).

    Pillow formats map the rate id to a quality in ``LADDERS`` (``-ds``: ``DOWNSCALED_LADDER``); zoo models to quality ``rate + 1``;
    ``tiny`` / ``mse`` go through ``ditic_lite.load(name, rate, **kwargs)``.
    """
    entry = _entry(name)
    if entry.kind == PILLOW:
        return pillow_codec(entry.name, rate)
    if entry.kind == COMPRESSAI:
        return ZooCodec(entry.name, rate + 1, **kwargs)
    from .zoo import load
    return load(entry.name, rate=rate, **kwargs)


def codec_rates(name: str) -> list[int]:
    """Rate ids of codec ``name`` without loading weights (the tiny tier: its shipped rate files)."""
    entry = _entry(name)
    if entry.kind == TINY:
        from .zoo import available_rates
        return available_rates(entry.name)
    return entry.rate_ids
