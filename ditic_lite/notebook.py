"""Notebook plumbing: one ``setup()`` call, CI-sized parameters, where figures and samples live,
and "a photo" (a sample name, a file path, a URL or, on Colab, an upload: :func:`photo_path`).

Every notebook starts with ::

    import ditic_lite as dl
    device = dl.setup()

``setup()`` returns the device (``"cuda"`` when a GPU is visible, else ``"cpu"``) and prints what
the notebook runs on: versions, the GPU or "CPU", where the checkpoints are and, on a GPU, the
dtype the official tier will use there (:func:`official_dtype`) and the GPU memory its checkpoint
needs (:func:`official_memory_gib`). On Google Colab it also installs the optional packages the
notebooks use that are missing there, with torch, torchvision and numpy pinned to the installed
versions (:data:`KEEP`), so nothing Colab ships is replaced and no restart is needed.

The kit cannot install itself before it is importable, so on Colab the first code cell of each
notebook gets the kit (a ``git clone`` of the repository the notebooks were built from into
:data:`COLAB_DIR`, or a wheel/zip of the kit uploaded to the session) and installs it with the
same pins, then installs CompressAI without its dependency pins (:data:`COMPRESSAI`: its metadata
asks for numpy < 2, which its rANS coder does not need). That cell does nothing elsewhere
(``scripts/build_notebooks.py``, ``COLAB_CELL``).

Notebook parameters come from environment variables, so the test suite can run every notebook
at CPU size without editing it (``DITIC_FAST=1``; any parameter ``X`` can be overridden with
``DITIC_X``, parsed as JSON). This module uses the standard library only. Explained in notebook
``01_quickstart``.
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

COLAB_DIR = "/content/ditic-lite"
COMPRESSAI = "compressai==1.2.8"
"""The entropy coder the kit's bitstreams are defined by; installed with ``pip install --no-deps``."""
KEEP = ("torch", "torchvision", "numpy")
"""Installed packages that the kit's installs never replace (pinned as pip constraints)."""

# import name -> pip name of the optional packages the notebooks use (installed on Colab if missing)
NOTEBOOK_EXTRAS = {
    "ipywidgets": "ipywidgets>=7.6",
    "pytorch_msssim": "pytorch-msssim>=1.0",
    "lpips": "lpips>=0.1.4",
    "DISTS_pytorch": "DISTS_pytorch",
}
# parameters of the official release: DC-AE + DiT (cast to the compute dtype) and the rest (float32)
OFFICIAL_PARAMS = {"cast": 312_250_275 + 591_747_872, "float32": 126_750_848 + 11_370_304 + 7_337_792}

_ROOT = Path(__file__).resolve().parent.parent  # the source tree (or site-packages when installed)
_GIB = 2 ** 30


class RestartRequired(RuntimeError):
    """The running Python holds an older copy of a package than the one now installed."""


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def restart_reason() -> str | None:
    """Why the runtime must restart before the kit works, or ``None``.

    A package of :data:`KEEP` already imported in this process at a version other than the
    installed one means pip replaced it after Python started (the kit's own installs pin them, so
    only an install made by hand does this).
    """
    for dist in KEEP:
        module = sys.modules.get(dist)
        installed = _installed(dist)
        if module is None or installed is None:
            continue
        loaded = str(getattr(module, "__version__", installed))
        if loaded.split("+")[0].split(".")[:2] != installed.split("+")[0].split(".")[:2]:
            return (f"{dist} {loaded} is loaded but {dist} {installed} is now installed: restart the "
                    "runtime (Colab: Runtime > Restart session), then run all cells again; the install is kept")
    return None


def check_runtime() -> None:
    """Raise ``ImportError`` with the install command when CompressAI is missing, and (Colab only)
    :class:`RestartRequired` with what to do when :func:`restart_reason` says so."""
    if importlib.util.find_spec("compressai") is None:
        raise ImportError(f"ditic-lite needs {COMPRESSAI}, installed without its dependency pins "
                          f"(its numpy<2 pin is not needed): pip install --no-deps {COMPRESSAI}")
    reason = restart_reason()
    if reason is not None and in_colab():
        raise RestartRequired(reason)


def missing_extras() -> list[str]:
    """pip names of :data:`NOTEBOOK_EXTRAS` whose module cannot be found here."""
    return [pip for module, pip in NOTEBOOK_EXTRAS.items() if importlib.util.find_spec(module) is None]


def keep_constraints() -> list[str]:
    """``name==version`` of the installed packages of :data:`KEEP` (pip constraints)."""
    return [f"{d}=={v}" for d in KEEP if (v := _installed(d)) is not None]


def pip_install(packages: list[str], quiet: bool = True) -> None:
    """``pip install`` with the installed torch, torchvision and numpy pinned as constraints."""
    if not packages:
        return
    constraints = Path(os.environ.get("TMPDIR", "/tmp")) / "ditic_lite_constraints.txt"
    constraints.write_text("\n".join(keep_constraints()) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", *(["-q"] if quiet else []), "-c", str(constraints), *packages]
    print("installing:", " ".join(packages))
    subprocess.run(cmd, check=True)


def device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"`` (``DITIC_DEVICE`` overrides)."""
    forced = os.environ.get("DITIC_DEVICE")
    if forced:
        return forced
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def official_dtype(dev: str | None = None) -> str:
    """The compute dtype of the official tier on ``dev`` (default :func:`device`): ``"bf16"`` on
    an Ampere or newer GPU, ``"fp16"`` on older GPUs (a T4 has no bfloat16 units), ``"fp32"`` on
    a CPU. ``DITIC_DTYPE`` overrides. Used by notebook ``07_official_dit_ic``."""
    forced = os.environ.get("DITIC_DTYPE")
    if forced:
        return forced
    dev = dev or device()
    if not dev.startswith("cuda"):
        return "fp32"
    import torch

    major, _ = torch.cuda.get_device_capability(torch.device(dev))
    return "bf16" if major >= 8 else "fp16"


def official_memory_gib(dtype: str) -> dict[str, float]:
    """GPU memory of the official checkpoint in GiB: ``load`` (the loader moves the float32 tensors
    to the GPU, then casts) and ``weights`` (DC-AE and DiT in ``dtype``, the rest float32). Decoding
    adds activations that grow with the image size."""
    size = {"fp32": 4, "bf16": 2, "fp16": 2}[dtype]
    total = OFFICIAL_PARAMS["cast"] + OFFICIAL_PARAMS["float32"]
    return {"load": 4 * total / _GIB, "weights": (size * OFFICIAL_PARAMS["cast"] + 4 * OFFICIAL_PARAMS["float32"]) / _GIB}


def runtime_report(dev: str) -> list[str]:
    """The lines :func:`setup` prints: versions and device, checkpoints, and on a GPU the official
    tier's dtype and memory."""
    versions = ", ".join(f"{d} {_installed(d) or 'missing'}" for d in ("torch", "numpy", "compressai"))
    where = "Colab" if in_colab() else "local"
    fast = " (DITIC_FAST: CI-sized parameters)" if fast_mode() else ""
    if dev.startswith("cuda"):
        import torch

        props = torch.cuda.get_device_properties(torch.device(dev))
        hardware = f"GPU {props.name}, {props.total_memory / _GIB:.1f} GiB"
    else:
        hardware = "CPU"
    lines = [f"ditic-lite {_kit_version()} ({where}): {versions}; device {dev} ({hardware}){fast}",
             f"checkpoints: tiny and mse in {Path(__file__).resolve().parent / 'checkpoints'}; "
             f"official (notebooks 02-07 where it is on disk; tier='official' downloads it): {_official_cache()}"]
    if dev.startswith("cuda"):
        dtype = official_dtype(dev)
        mem = official_memory_gib(dtype)
        why = "" if dtype == "bf16" else " (bf16 needs an Ampere or newer GPU)"
        lines.append(f"official tier on this GPU: {dtype}{why}; its checkpoint needs {mem['load']:.1f} GiB of GPU "
                     f"memory to load, then {mem['weights']:.1f} GiB of weights plus activations that grow with "
                     f"the image (this GPU: {props.total_memory / _GIB:.1f} GiB)")
    return lines


def _official_cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return "not cached"
    folder = Path(HF_HUB_CACHE) / "models--JunqiShi--DiT-IC"
    return f"cached in {folder}" if any(folder.glob("snapshots/*/*_merge_ema.pt")) else f"not cached (downloads into {folder})"


def setup(install: bool = True, verbose: bool = True) -> str:
    """The one setup call of every notebook; returns the device to use (``"cuda"`` or ``"cpu"``).

    Colab: installs the missing optional packages (:func:`missing_extras`, :data:`KEEP` pinned)
    and raises :class:`RestartRequired` if a package was replaced under the running Python. Prints
    :func:`runtime_report` when ``verbose``. Running it again installs nothing. Explained in
    notebook ``01_quickstart``.
    """
    if in_colab():
        check_runtime()
        if install:
            pip_install(missing_extras())
            check_runtime()
    dev = device()
    if verbose:
        print("\n".join(runtime_report(dev)))
    return dev


def _kit_version() -> str:
    from ._version import __version__

    return __version__


def online(host: str = "download.pytorch.org", timeout: float = 3.0, port: int = 443) -> bool:
    """Whether downloads may be tried: ``False`` under ``HF_HUB_OFFLINE=1`` or ``DITIC_OFFLINE=1``,
    else a ``timeout``-second TCP probe of ``host:port``. Notebooks never try a download when this
    is ``False``."""
    for var in ("DITIC_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------ parameters
def fast_mode() -> bool:
    """True when ``DITIC_FAST`` is set to a true value (CI-sized notebook runs)."""
    return os.environ.get("DITIC_FAST", "").strip().lower() in ("1", "true", "yes", "on")


def params(fast: dict[str, Any] | None = None, **defaults: Any) -> SimpleNamespace:
    """Notebook parameters: ``defaults``, replaced by ``fast`` under ``DITIC_FAST=1``, then by any
    ``DITIC_<NAME>`` environment variable (JSON, e.g. ``DITIC_STEPS='[1, 4]'``).

    >>> P = params(images=3, steps=[1, 2, 4], fast=dict(images=1))   # doctest: +SKIP
    """
    values = dict(defaults)
    if fast_mode() and fast:
        unknown = set(fast) - set(defaults)
        if unknown:
            raise ValueError(f"fast values for unknown parameters {sorted(unknown)}")
        values.update(fast)
    for name in values:
        raw = os.environ.get(f"DITIC_{name.upper()}")
        if raw is not None:
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError:
                values[name] = raw
    return SimpleNamespace(**values)


# ------------------------------------------------------------------------------------ locations
def _output_dir(env_var: str, name: str) -> Path:
    """``$env_var``, else ``name/`` of the source tree, else ``./name``; created if needed."""
    env = os.environ.get(env_var)
    if env:
        folder = Path(env)
    elif (_ROOT / "notebooks").is_dir() and (_ROOT / "ditic_lite").is_dir():
        folder = _ROOT / name
    else:
        folder = Path.cwd() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def figures_dir() -> Path:
    """Where notebooks save figures: ``$DITIC_FIGURES``, else ``figures/`` of the source tree
    (the README gallery), else ``./figures``. Created if needed."""
    return _output_dir("DITIC_FIGURES", "figures")


def figure_path(name: str) -> Path:
    """``figures_dir() / name`` (e.g. ``"01_quickstart.png"``)."""
    return figures_dir() / name


def results_dir() -> Path:
    """Where notebooks write tables and files: ``$DITIC_RESULTS``, else ``results/`` of the source
    tree (git-ignored), else ``./results``. Created if needed."""
    return _output_dir("DITIC_RESULTS", "results")


def result_path(name: str) -> Path:
    """``results_dir() / name`` (e.g. ``"05_rate_points.csv"``). ``name`` is a plain file name:
    one with a folder part (``"/home/me/photo.jpg.ditic"``) is refused, so that results never land
    beside a student's photo; build names from :func:`photo_label`."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise ValueError(f"result_path takes a plain file name, got {name!r}; "
                         "for a photo use dl.notebook.photo_label(image) + '.ditic'")
    return results_dir() / name


def save_table(table: Any, name: str) -> Path:
    """Write a pandas table as ``results/<name>`` (CSV, no index); returns the path."""
    path = result_path(name)
    table.to_csv(path, index=False)
    return path


def samples_dir() -> Path:
    """The folder of the kit's sample photos (``data/samples``; ``$DITIC_SAMPLES`` overrides)."""
    candidates = [Path(p) for p in [os.environ.get("DITIC_SAMPLES")] if p]
    candidates += [_ROOT / "data" / "samples", Path(__file__).resolve().parent / "sample_data",
                   Path(COLAB_DIR) / "data" / "samples"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.png")):
            return folder
    raise FileNotFoundError(
        f"sample images not found in {[str(c) for c in candidates]}; install the kit from its "
        "repository or a wheel built from it, or set DITIC_SAMPLES to a folder of PNG images")


def sample_paths() -> list[Path]:
    """The sample photos, sorted by name."""
    return sorted(samples_dir().glob("*.png"))


def sample_path(name: str) -> Path:
    """One sample photo by stem (``"kite"``) or file name; for any photo (sample, file or URL)
    use :func:`photo_path`, which calls this for sample names."""
    folder = samples_dir()
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    if not path.exists():
        raise FileNotFoundError(f"no sample {name!r}; samples are {[p.stem for p in sample_paths()]}")
    return path


# ------------------------------------------------------------------------------------ your own photo
PHOTOS_FOLDER = "photos"
"""Sub-folder of :func:`results_dir` for downloaded and uploaded photos."""


def _is_url(image: str | Path) -> bool:
    return isinstance(image, str) and image.lower().startswith(("http://", "https://"))


def _is_sample_name(image: str | Path) -> bool:
    """Whether ``image`` names a shipped sample photo (``"kite"`` or ``"kite.png"``, no folder part)."""
    text = str(image)
    if isinstance(image, Path) or Path(text).name != text or os.sep in text or "/" in text:
        return False
    try:
        return text.removesuffix(".png") in {p.stem for p in sample_paths()}
    except FileNotFoundError:
        return False


def photo_label(image: str | Path) -> str:
    """A short, file-name-safe label of a photo for titles and result file names: the sample
    name (``"kite"``), else the file (or URL) stem, other characters than letters, digits, ``-``
    and ``_`` replaced by ``_`` (at most 40 characters); a photo of your own named like a sample
    (``~/kite.jpg``) gets ``"kite_own"``. Used by every notebook, first in ``01_quickstart``."""
    text = str(image).strip()
    if _is_sample_name(text):
        return text.removesuffix(".png")
    if _is_url(text):
        from urllib.parse import urlsplit

        text = urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1] or "photo"
    stem = Path(text).expanduser().stem if text else ""
    label = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in stem).strip("_")[:40] or "photo"
    if _is_sample_name(label) and not _is_url(image) and _names_sample_file(text, label):
        return label  # a path to the sample photo itself
    return f"{label}_own" if _is_sample_name(label) else label  # never mistaken for the sample


def _names_sample_file(text: str, name: str) -> bool:
    try:
        return photo_path(text) == sample_path(name).resolve()
    except (OSError, ValueError):
        return False


def photo_path(image: str | Path) -> Path:
    """The file of "a photo", given as a sample name (``"kite"``), a file path (absolute,
    relative to the current folder or to the kit's folder, ``~`` expanded) or an ``http(s)://``
    URL (downloaded once into ``results/photos/``; offline: a ``ConnectionError`` saying what to
    do). The one resolver behind every notebook's ``image=`` parameter (``DITIC_IMAGE``) and
    ``ditic-lite demo``. Explained in notebook ``01_quickstart``.
    """
    if isinstance(image, str) and not image.strip():
        raise ValueError("no photo given: pass a sample name (e.g. 'kite'), a file path or a URL")
    if _is_url(image):
        return _downloaded_photo(str(image).strip())
    if _is_sample_name(image):
        return sample_path(str(image))
    given = Path(str(image).strip()).expanduser()
    tried = [given] if given.is_absolute() else [Path.cwd() / given, _ROOT / given]
    for path in tried:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder, not a photo: pass one image file")
        if path.is_file():
            return path.resolve()
    try:
        samples = [p.stem for p in sample_paths()]
    except FileNotFoundError:
        samples = []
    raise FileNotFoundError(f"no photo {str(image)!r}: not a sample name {samples} and no such file "
                            f"(looked in {', '.join(str(p.parent) for p in tried)})")


def _downloaded_photo(url: str) -> Path:
    """``url`` downloaded once into ``results/photos/`` (reused after); one clear error when offline."""
    from urllib.parse import urlsplit

    suffix = Path(urlsplit(url).path).suffix.lower()
    suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif") else ".img"
    folder = results_dir() / PHOTOS_FOLDER
    target = folder / f"{photo_label(url)}_{_short_hash(url)}{suffix}"
    if target.is_file():
        return target
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not online(host, port=parts.port or (443 if parts.scheme.lower() == "https" else 80)):
        raise ConnectionError(f"cannot download {url}: offline (or {host} unreachable); download the photo "
                              "yourself and pass its file path instead")
    import urllib.request

    folder.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url} -> {target} (once; reused after)")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "ditic-lite"})
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as err:
        raise ConnectionError(f"cannot download {url} ({err}); download the photo yourself and pass "
                              "its file path instead") from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ValueError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MB; download it yourself")
    target.write_bytes(data)
    return target


MAX_DOWNLOAD_BYTES = 50 * 2 ** 20
"""The largest photo :func:`photo_path` downloads from a URL (50 MB)."""


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def upload_photo() -> Path:
    """On Google Colab: an upload button; the chosen photo is saved into ``results/photos/`` and
    its path returned (pass it as ``image=``). Elsewhere raises ``RuntimeError``: pass a file
    path instead. Explained in notebook ``01_quickstart``."""
    if not in_colab():
        raise RuntimeError("upload_photo() works on Google Colab only; here pass the photo's file path "
                           "instead, e.g. image='/path/to/photo.jpg' (or DITIC_IMAGE=/path/to/photo.jpg)")
    from google.colab import files  # type: ignore[import-not-found]

    uploaded = files.upload()
    if not uploaded:
        raise RuntimeError("no file was uploaded")
    name, data = next(iter(uploaded.items()))
    folder = results_dir() / PHOTOS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{photo_label(name)}{Path(name).suffix.lower()}"
    target.write_bytes(data)
    print(f"uploaded {name} -> {target}")
    return target


# ------------------------------------------------------------------------------------ execution
def run_notebook(path: str | Path, env: dict[str, str] | None = None, timeout: int = 600,
                 kernel_name: str = "python3") -> tuple[Any, float]:
    """Execute a notebook top to bottom in a fresh kernel (nbclient), in its own folder, with
    ``env`` added to the kernel's environment. Raises on the first failing cell; returns the
    executed notebook (not written anywhere) and the wall time in seconds. Used by the test
    suite and ``scripts/build_notebooks.py --gallery``.
    """
    import time

    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(path.parent)}})
        tic = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - tic
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
