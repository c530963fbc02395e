"""ditic-lite: learn, see and check DiT-IC (CVPR 2026) on a laptop CPU.

One import backs every notebook: ``import ditic_lite as dl``.

    codec = dl.load("tiny", rate=0)
    data = codec.compress("photo.png")
    image = codec.decompress(data)
"""
__version__ = "0.1.0"

import warnings as _warnings

# compressai 1.2.8 scripts a helper with torch.jit at import; newer torch warns about it on every
# start, which would add a line to every CLI error. The warning is not ours to fix.
_warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)

from .notebook import check_runtime as _check_runtime

_check_runtime()  # compressai missing: the install command; Colab: "restart" if pip replaced numpy/torch

from .codec import Codec
from .config import DiTICConfig, tiny_config
from .container import DecodeError
from .images import ImageError, load_image
from .zoo import CheckpointError, load, load_base
from .notebook import setup
# dl.teaching.*, dl.viz.*, dl.claims.*, ... in notebooks
from . import (align, claims, evidence, flow, metrics, notebook, perception, plots, reference, reproduce,
               teaching, viz)

__all__ = [
    "Codec", "CheckpointError", "DecodeError", "DiTICConfig", "ImageError", "load", "load_base",
    "load_image", "tiny_config",
    "setup",
]
