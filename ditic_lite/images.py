"""Image conversion and the kit's single padding rule.

Every codec in the kit takes "an image" in any of the forms people have at hand (PIL image,
HxWx3 uint8 array, float tensor in [0, 1]) and returns PIL images; these helpers do the
conversions in one place. Explained in notebook ``01_quickstart``.
"""
from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .sizes import MAX_PIXELS, MAX_SIDE  # noqa: F401  (defined torch-free for the container and the CLI)

ImageLike = Union[Image.Image, np.ndarray, torch.Tensor, str, Path]

# what Pillow may raise on damaged or hostile files (beyond the FileNotFoundError passed on)
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
               Image.DecompressionBombError)
ALPHA_NOTE = "transparent pixels composited on white (the codec codes RGB only)"
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # brightness from R, G, B (ITU-R BT.601), for every detail measure


def luma(images: torch.Tensor) -> torch.Tensor:
    """The brightness (:data:`LUMA_WEIGHTS`) of a batch of RGB images (N, 3, H, W) -> (N, 1, H, W)."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device)
    return (images * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


class ImageError(ValueError):
    """The input is not an image the kit can code (wrong type, shape, size or file)."""


def load_image(path: str | Path, max_side: int | None = MAX_SIDE) -> Image.Image:
    """Open any common photo file as 8-bit RGB, upright: JPEG, PNG, WebP, TIFF, BMP, GIF, in
    grayscale, 16-bit, palette, CMYK or with transparency (composited on white, with a warning);
    the EXIF orientation is applied. A photo whose longer side exceeds ``max_side`` is downscaled
    to it (:data:`MAX_SIDE`, one printed note; ``None``: full size, checked against
    :data:`MAX_PIXELS` from the header before decoding). A file that is not an image, or is
    truncated, raises :class:`ImageError` with a one-line message. Explained in ``01_quickstart``.
    """
    try:
        with Image.open(path) as im:
            if max_side is None:
                check_size(im.height, im.width)
            rotated = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF: displayed turned 90 degrees
            original = (im.height, im.width) if rotated else im.size
            if max_side is not None and max(im.size) > max_side and im.format == "JPEG":
                im.draft("RGB", _fit(im.size, max_side))  # decode a JPEG at 1/2, 1/4 or 1/8: less memory
            im.load()
            rgb = to_rgb(ImageOps.exif_transpose(im))
    except (FileNotFoundError, ImageError):
        raise
    except _PIL_ERRORS as err:  # PIL's "cannot identify image file", truncated data, ...
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageError(f"{path}: not a readable image ({message})") from None
    if max_side is not None and max(rgb.size) > max_side:
        rgb = rgb.resize(_fit(rgb.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if rgb.size != original:
        print(f"note: {Path(path).name} is {original[0]}x{original[1]} px; downscaled to {rgb.width}x{rgb.height} "
              f"(longer side at most {max_side} px; load_image(path, max_side=None) or the command's --max-side 0 "
              "keeps the full size)")
    return rgb


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so that its longer side is ``max_side`` (aspect ratio kept, at least 1 px)."""
    scale = max_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB: transparency composited on white (with a warning),
    16-bit scaled down, CMYK and YCbCr converted.

    16-bit modes (``I;16*``) are scaled by 255/65535 whatever their range; 32-bit integer
    images (``I``) are read as 16-bit when a value exceeds 255 and as 8-bit otherwise; 32-bit
    float images (``F``) as 0..1 when their values are at most 1, else as 0..255.
    """
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("PA", "La", "RGBa"):
        im = im.convert("RGBA" if im.mode != "La" else "LA")
    if im.mode in ("RGBA", "LA"):
        warnings.warn(ALPHA_NOTE, stacklevel=3)
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            scale = 1.0 if a.size and np.nanmax(a) <= 1.0 else 255.0
        else:
            scale = 255.0 if im.mode == "I" and a.max() <= 255 else 65535.0
        im = Image.fromarray(np.clip(np.nan_to_num(a) / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))
    try:
        return im.convert("RGB")
    except ValueError as err:
        raise ImageError(f"cannot convert a {im.mode} image to RGB ({err})") from None


def to_tensor(img: ImageLike) -> torch.Tensor:
    """Any accepted image form -> float32 tensor 1x3xHxW in [0, 1]."""
    if isinstance(img, (str, Path)):
        img = load_image(img)
    if isinstance(img, Image.Image):
        check_size(img.height, img.width)  # before any conversion allocates
        img = np.asarray(to_rgb(img))
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
            raise ImageError(f"expected an HxWx3 array, got shape {tuple(img.shape)}")
        check_size(img.shape[0], img.shape[1])
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.shape[2] == 4:
            warnings.warn(ALPHA_NOTE, stacklevel=2)
            img = _on_white(img)
        if img.dtype == np.uint8:
            x = torch.from_numpy(np.array(img, copy=True)).float().div_(255.0)
        elif img.dtype == np.uint16:
            x = torch.from_numpy(img.astype(np.float32) / 65535.0)
        elif np.issubdtype(img.dtype, np.floating):
            x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        else:
            raise ImageError(f"unsupported array dtype {img.dtype}")
        img = x.permute(2, 0, 1)[None]
    if not isinstance(img, torch.Tensor):
        raise ImageError(f"expected a PIL image, an array, a tensor or a path, got {type(img).__name__}")
    x = img.detach().float()
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ImageError(f"expected a 3xHxW or 1x3xHxW tensor, got shape {tuple(img.shape)}")
    if not torch.isfinite(x).all():
        raise ImageError("the image tensor holds NaN or infinite values")
    check_size(x.shape[-2], x.shape[-1])
    return x.clamp(0.0, 1.0)


def _on_white(rgba: np.ndarray) -> np.ndarray:
    """An HxWx4 array (alpha last, full scale = the dtype's maximum, 1 for floats) composited on white."""
    top = float(np.iinfo(rgba.dtype).max) if np.issubdtype(rgba.dtype, np.integer) else 1.0
    rgb, alpha = rgba[..., :3].astype(np.float64), rgba[..., 3:].astype(np.float64) / top
    out = rgb * alpha + top * (1.0 - alpha)
    return np.round(out).astype(rgba.dtype) if np.issubdtype(rgba.dtype, np.integer) else out.astype(rgba.dtype)


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """Height and width after :func:`pad_to_multiple` (the next multiples of ``multiple``)."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def check_size(height: int, width: int, max_pixels: int = MAX_PIXELS, multiple: int = 1) -> None:
    """Refuse empty images and images above ``max_pixels`` with a message naming the limit.

    With ``multiple`` the size counted is the padded one (:func:`pad_to_multiple`), which is what
    the codec allocates: a 1x65536 strip pads to 256x65536 = 16.8 MP.
    """
    if height < 1 or width < 1:
        raise ImageError(f"empty image ({width}x{height})")
    padded_h, padded_w = padded_size(height, width, multiple)
    if padded_h * padded_w > max_pixels:
        padded = "" if multiple == 1 else f", padded to multiples of {multiple}: {padded_w}x{padded_h}"
        raise ImageError(
            f"image is {width}x{height}{padded} = {padded_h * padded_w / 1e6:.1f} MP, above the limit "
            f"of {max_pixels / 1e6:.1f} MP (ditic_lite.images.MAX_PIXELS); crop or tile it first"
        )


def to_pil(x: torch.Tensor) -> Image.Image:
    """Float tensor (1x)3xHxW in [0, 1] -> 8-bit RGB PIL image (rounded, not truncated)."""
    x = x.detach().float().cpu()
    if x.ndim == 4:
        x = x[0]
    a = (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(a, "RGB")


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> torch.Tensor:
    """Pad right and bottom so height and width are multiples of ``multiple``.

    ``reflect`` (the official DiT-IC rule: the edge pixel is not repeated) needs the pad to be
    smaller than the image side; where it is not (tiny images), the part that reflection cannot
    provide is filled by replicating the edge, so any size >= 1 works. Crop back with
    ``x[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if mode == "reflect":
        # reflect as much as the image allows, repeat the rest
        rh, rw = min(pad_h, h - 1), min(pad_w, w - 1)
        if rh or rw:
            x = F.pad(x, (0, rw, 0, rh), mode="reflect")
        pad_h, pad_w = pad_h - rh, pad_w - rw
        mode = "replicate"
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x
