"""Every codec name the kit knows, in one table: ``CODECS[name]`` -> :class:`CodecEntry`.

Modelled on CompressAI's zoo table (``compressai.zoo.image_models``): a name maps to what the
codec is (its kind), the setting of each of its rate ids, and whether its decoder runs the DiT
flow (a number of steps can be chosen). CompressAI's pretrained models join under their zoo names
(:func:`find`, :func:`names`), read from CompressAI when first asked for.

Kinds, and what builds them:

* ``tiny``: the kit's learned tiny tier, shipped weights; ``ditic_lite.load(name, rate)``.
* ``official``: the released full-size DiT-IC; ``ditic_lite.load("official", checkpoint=...)``.
  It needs a checkpoint file, so it is not built from its name alone (:attr:`CodecEntry.from_name`).
* ``pillow``: classical baselines through Pillow; ``baselines.get_codec(name, rate)``.
* ``compressai``: CompressAI's pretrained MSE models; ``baselines.get_codec(name, rate)``.

:class:`CodecLike` is the interface all of them share. This module imports nothing of the
package: the loaders (``zoo``, ``baselines``), ``evaluate`` and the CLI all read it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PIL import Image

    from .images import ImageLike

TINY, OFFICIAL, PILLOW, COMPRESSAI = "tiny", "official", "pillow", "compressai"
KINDS = {
    TINY: "learned tiny tier (shipped weights)",
    OFFICIAL: "official DiT-IC release (needs checkpoint=)",
    PILLOW: "classical baseline (Pillow)",
    COMPRESSAI: "learned baseline (CompressAI zoo, pretrained)",
}


class CodecLike(Protocol):
    """What the evaluation and the benchmark need from a codec (every kind above has it)."""

    name: str
    rates: list[int]

    def compress(self, img: ImageLike) -> bytes: ...

    def decompress(self, data: bytes, steps: int = 1) -> Image.Image: ...


@dataclass(frozen=True)
class CodecEntry:
    """One codec name: its kind, the setting of each rate id, and whether it takes DiT steps.

    ``rate_settings[i]`` is what rate id ``i`` means: a Pillow quality, ``(scale, quality)`` for
    the downscaled ``-ds`` variants, a CompressAI quality (= rate id + 1). Empty where the weights
    decide: the tiny tier's shipped ``rate{i}`` files, the official checkpoint (rate 0).
    """

    name: str
    kind: str
    summary: str
    rate_settings: tuple[Any, ...] = ()
    dit_steps: bool = False  # the decoder runs the DiT flow: ``decompress(data, steps=K)``

    @property
    def from_name(self) -> bool:
        """Built from its name and a rate id alone (the official model also needs ``checkpoint=``)."""
        return self.kind != OFFICIAL

    @property
    def rate_ids(self) -> list[int] | None:
        """Rate ids known without loading weights; ``None`` where the weights decide."""
        return list(range(len(self.rate_settings))) if self.rate_settings else None


_DOWNSCALED = ((0.2, 40), (0.3, 40), (0.4, 40), (0.55, 40))  # (scale, quality), lowest rate first

# low rates first; the Pillow ladders reach down towards the DiT-IC range (< 0.2 bpp)
CODECS: dict[str, CodecEntry] = {entry.name: entry for entry in (
    CodecEntry("jpeg", PILLOW, "JPEG through Pillow", (5, 10, 20, 35, 50, 75, 90)),
    CodecEntry("webp", PILLOW, "WebP through Pillow", (0, 5, 15, 30, 50, 75, 90)),
    CodecEntry("avif", PILLOW, "AVIF through Pillow (libavif)", (5, 20, 35, 50, 65, 80, 90)),
    *(CodecEntry(f"{fmt}-ds", PILLOW, f"{fmt.upper()} of a downscaled copy, upscaled after decoding", _DOWNSCALED)
      for fmt in ("jpeg", "webp", "avif")),
    CodecEntry("tiny", TINY, "DiT-IC tiny: latent codec and one-step DiT", dit_steps=True),
    CodecEntry("mse", TINY, "MSE baseline: the tiny latent codec with a plain decoder, no DiT step"),
    CodecEntry("official", OFFICIAL, "the official DiT-IC release (full size, GPU)", dit_steps=True),
)}


@lru_cache(maxsize=1)
def compressai_entries() -> dict[str, CodecEntry]:
    """CompressAI's pretrained image models under their zoo names (imports CompressAI)."""
    from compressai.zoo.image import cfgs

    return {name: CodecEntry(name, COMPRESSAI, f"CompressAI {name}, MSE-optimised", tuple(sorted(cfgs[name])))
            for name in sorted(cfgs)}


def find(name: str) -> CodecEntry | None:
    """The entry of ``name`` (exact spelling), CompressAI's models included; ``None`` if unknown."""
    return CODECS.get(name) or compressai_entries().get(name)


def names(*kinds: str) -> list[str]:
    """Codec names of the given kinds (all kinds by default), in table order, CompressAI's last."""
    kinds = kinds or tuple(KINDS)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown codec kind(s) {sorted(unknown)}; choose from {list(KINDS)}")
    found = [name for name, entry in CODECS.items() if entry.kind in kinds]
    return found + (list(compressai_entries()) if COMPRESSAI in kinds else [])
