"""Sizes the whole kit shares, without torch: the largest image it codes, the longer side it
opens photos at and the rate in bits per pixel. ``ditic-lite info`` and the ``.ditic`` container
need only these, so they start fast; ``images.MAX_PIXELS`` and ``metrics.bits_per_pixel`` are the
same objects."""
from __future__ import annotations

MAX_PIXELS = 4096 * 4096  # refuse larger inputs before allocating (tile them yourself)
"""Largest image, counted after padding to the codec's multiple. 16.8 MP peaks at about 3.5 GB
of memory with the tiny model on a CPU (4000x3000: 3.2 GB); see ``tests/test_odd_images.py``."""

MAX_SIDE = 2048
"""Longer side, in pixels, that :func:`ditic_lite.images.load_image` downscales larger photos to
(with a printed note). A phone photo (4032x3024, 12 MP) takes the tiny model about 25 s to code
and as long to decode on a 2-core CPU, peaking near 3 GB of memory, and the notebooks code their
photo tens of times; 2048x1536 has a quarter of the pixels (and of the time), still more than a
figure or a screen shows, and the official decoder codes it in one tile (it works in tiles above
2048 px). ``load_image(path, max_side=None)`` keeps the full size (up to :data:`MAX_PIXELS`)."""


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    """Rate of a coded image: real file bytes * 8 / (H * W) of the original (unpadded) image."""
    if num_bytes < 0 or height < 1 or width < 1:
        raise ValueError(f"need num_bytes >= 0 and a non-empty image, got {num_bytes}, {height}x{width}")
    return num_bytes * 8.0 / (height * width)
