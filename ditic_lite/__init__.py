"""ditic-lite: learn, see and check DiT-IC (CVPR 2026) on a laptop CPU.

One import backs every notebook: ``import ditic_lite as dl``.

    codec = dl.load("tiny", rate=0)
    data = codec.compress("photo.png")
    image = codec.decompress(data)

Importing the package is cheap: the submodules (``dl.teaching``, ``dl.viz``, ``dl.claims``, ...)
and the names below are imported on first use (PEP 562), so ``import ditic_lite`` loads neither
torch nor diffusers, matplotlib or peft, and leaves matplotlib's backend alone.
"""
import importlib as _importlib
import pkgutil as _pkgutil
import typing as _typing
import warnings as _warnings

from ._version import __version__

# compressai 1.2.8 scripts a helper with torch.jit at import; newer torch warns about it on every
# start, which would add a line to every CLI error. The warning is not ours to fix.
_warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)

from .notebook import check_runtime as _check_runtime

_check_runtime()  # compressai missing: the install command; Colab: "restart" if pip replaced numpy/torch

_LAZY_NAMES = {
    "Codec": "codec", "CheckpointError": "checkpoints", "DecodeError": "container", "DiTICConfig": "config",
    "ImageError": "images", "load": "zoo", "load_base": "zoo", "load_image": "images",
    "tiny_config": "config", "setup": "notebook",
}
"""Public name -> the submodule that defines it (imported when the name is first read)."""

__all__ = list(_LAZY_NAMES)

if _typing.TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports these
    from . import (align, claims, evidence, flow, metrics, notebook, perception, plots, reference,
                   reproduce, teaching, viz)
    from .codec import Codec
    from .config import DiTICConfig, tiny_config
    from .container import DecodeError
    from .images import ImageError, load_image
    from .notebook import setup
    from .checkpoints import CheckpointError
    from .zoo import load, load_base


def _submodules() -> list[str]:
    """Public submodules of the package (``teaching``, ``viz``, ``zoo``, ...)."""
    return [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


def __getattr__(name: str) -> _typing.Any:
    """Import a submodule or one of :data:`_LAZY_NAMES` the first time it is read."""
    if name in _LAZY_NAMES:
        value = getattr(_importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    elif name in _submodules():
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next read is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    """The public names and submodules (whether imported yet or not), without private helpers."""
    return sorted({*(n for n in globals() if not n.startswith("_") or n.startswith("__")), *_LAZY_NAMES,
                   *_submodules()})
