"""Notebooks ``02_variance_and_pseudo_timesteps`` to ``07_official_dit_ic``: which tier a notebook
runs on, the released DiT-IC or the kit's tiny model, why, and the codecs, images and sizes that
follow from that choice (one place for all of it).

Every notebook from 02 on starts with ::

    P = dl.notebook.params(..., tier="auto", official_checkpoint="")   # DITIC_TIER, DITIC_OFFICIAL_CHECKPOINT
    run = dl.teaching.choose_tier(P.tier, P.official_checkpoint, device)
    P = run.sized(P, official_cpu=dict(images=1))                       # fewer images on a CPU
    print(run.describe())
    codec = run.load(P.rate)

``tier``: ``"auto"`` picks the official release only where its checkpoint is already on disk
(in the Hugging Face cache, or a path given) and a GPU is there (notebook 07: a CPU too), the
tiny model otherwise; it never starts a download. ``"official"`` runs the release anywhere (on a
CPU on images center-cropped to :data:`CPU_SIDE` pixels a side, so that a cell takes minutes,
not hours) and is the only way to download it: each rate point not on disk is one file of about
:data:`CHECKPOINT_GB` GB from the hub, fetched when first used (the notebook prints the size
first). ``"tiny"``: the kit's model. ``official_checkpoint``: the release's rate points, one
checkpoint per point, as a list (``DITIC_OFFICIAL_CHECKPOINT='["q1.pt", "q3.pt"]'``), a
comma-separated string, one file (then the release has one rate point here and the
quantisation-step lever of notebook 04 makes the curve), file names of the hub repo
(``"q2_merge_ema.pt"``: the cached copy, else downloaded when first used, official tier only) or
``owner/repo/file``; empty: the cached ``q1``..``q4`` files, else (on the official tier)
:data:`RELEASE_FILES` of the hub repo.

:func:`release_checkpoints`, :func:`choose_tier`, :func:`download_note`, :class:`Tier`, :class:`AtQuantStep`.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from PIL import Image

from ..images import ImageLike
from ..sizes import MAX_SIDE
from ..notebook import device as default_device
from ..notebook import OFFICIAL_PARAMS, official_dtype, official_memory_gib, online, result_path, sample_paths
from .common import as_pil
from .official_tier import cached_official_checkpoints

TIER_CHOICES = ("auto", "official", "tiny")
RELEASE_FILES = ("q1_merge_ema.pt", "q2_merge_ema.pt", "q3_merge_ema.pt", "q4_merge_ema.pt")
"""The release's quality points on the hub repo, lowest rate first (q1 ~0.009 ... q4 ~0.100 bpp on
Kodak, as cited from the release's README and logs: ``dl.reference.curve("kodak", UPDATED_MODEL)``)."""
CHECKPOINT_GB = round(4 * sum(OFFICIAL_PARAMS.values()) / 1e9, 1)
"""Size of one release checkpoint (``*_merge_ema.pt``: every parameter in float32), in GB: a
download of this size per rate point (:func:`download_note`)."""
CPU_SIDE = 256
"""The official tier on a CPU codes center crops of at most this many pixels a side (the model
pads to multiples of 256, so smaller crops cost the same)."""
TILE_ABOVE = 2048
"""The official DC-AE decodes in tiles only above this many pixels a side (bounded GPU memory)."""
EVALUATION_SIDE = 768
"""A photo of your own joins notebook 05's curves at most this many pixels a side (the sample
photos are 768x512), so that coding it at every rate point takes seconds, not minutes."""
SINGLE_FILE_QUANT_STEPS = (0.5, 1.0, 2.0)
"""With one checkpoint, the official curve of notebook 05 is that rate point at these quantisation steps."""


def release_checkpoints(spec: str | Sequence[str] | None = None) -> list[str]:
    """The official checkpoints named by ``spec`` (see the module docstring), one per rate point:
    local paths as given, bare file names as their cached copy or ``owner/repo/file`` of the hub.
    Empty ``spec``: the cached ``*_merge_ema.pt`` files. Never downloads.
    Explained in notebook ``02_variance_and_pseudo_timesteps``."""
    from ..official import HUB_REPO

    if isinstance(spec, (list, tuple)):
        entries = [str(s).strip() for s in spec]
    else:
        entries = [s.strip() for s in str(spec or "").split(",")]
    entries = [e for e in entries if e]
    if not entries:
        return [str(p) for p in sorted(set(cached_official_checkpoints()), key=lambda p: p.name)]
    cached = {p.name: p for p in cached_official_checkpoints()}
    out = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_file() or "/" in entry or os.sep in entry:
            out.append(str(path) if path.is_file() else entry)
        else:
            out.append(str(cached[entry]) if entry in cached else f"{HUB_REPO}/{entry}")
    return out


def download_note(checkpoints: Sequence[str]) -> str:
    """What loading ``checkpoints`` downloads, in words ("" when every file is on disk): how many
    files from the hub, about :data:`CHECKPOINT_GB` GB each, and where they are cached.
    Explained in notebook ``02_variance_and_pseudo_timesteps``."""
    missing = [Path(c).name for c in dict.fromkeys(checkpoints) if not Path(c).is_file()]
    if not missing:
        return ""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency of diffusers
        HF_HUB_CACHE = "the Hugging Face cache"
    return (f"download: {len(missing)} checkpoint file(s) from the hub ({', '.join(missing)}), about "
            f"{CHECKPOINT_GB:.1f} GB each, {len(missing) * CHECKPOINT_GB:.1f} GB in all if every one is used; "
            f"each only when a cell first uses it, then kept in {HF_HUB_CACHE}")


def choose_tier(tier: str = "auto", checkpoint: str | Sequence[str] | None = "", device: str | None = None,
                dtype: str = "", cpu_if_cached: bool = False) -> "Tier":
    """Decide the tier of a notebook and say why (:class:`Tier`); never downloads, never probes
    the network.

    ``"auto"``: the official release when its checkpoints are on disk (cached or given as paths;
    hub names not cached are left out) and a GPU is there, or ``cpu_if_cached`` (notebook 07);
    else the tiny model. ``"official"``: the release on any device, downloading each rate point
    not on disk when it is first loaded (:func:`download_note` says how much). ``"tiny"``: the
    kit's model. ``dtype``: ``""`` = ``notebook.official_dtype``.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    from ..official import HUB_REPO

    choice = (tier or "auto").strip().lower()
    if choice not in TIER_CHOICES:
        raise ValueError(f"tier must be one of {TIER_CHOICES}, got {tier!r}")
    dev = device or default_device()
    gpu = dev.startswith("cuda")
    dtype = dtype or official_dtype(dev)
    files = release_checkpoints(checkpoint)
    local = [f for f in files if Path(f).is_file()]
    hub = [f"{HUB_REPO}/{name}" for name in RELEASE_FILES]
    skipped = len(files) - len(local)
    left_out = f"; {skipped} named file(s) not on disk left out (tier='official' downloads them)" if skipped else ""
    download = f"tier='official' downloads the release (about {CHECKPOINT_GB:.1f} GB per rate point)"

    def official(reason: str, checkpoints: list[str]) -> Tier:
        return Tier("official", reason, dev, dtype, checkpoints, choice, None if gpu else CPU_SIDE)

    def tiny(reason: str) -> Tier:
        return Tier("tiny", reason, dev, "fp32", [], choice)

    if choice == "tiny":
        return tiny("asked for (tier='tiny')")
    if choice == "official":
        where = "on the GPU" if gpu else f"on the CPU, on {CPU_SIDE}x{CPU_SIDE} crops"
        return official(f"asked for (tier='official'), {where}", files or hub)
    if gpu and local:
        return official("auto: a GPU and the release's checkpoint(s) on disk" + left_out, local)
    if local and cpu_if_cached:
        return official(f"auto: the release's checkpoint is on disk (no GPU: the CPU, on {CPU_SIDE}x{CPU_SIDE} "
                        "crops)" + left_out, local)
    if gpu:
        return tiny(f"auto: a GPU, but no checkpoint of the release on disk, and 'auto' never downloads; {download}")
    hint = (" (a checkpoint is on disk: tier='official' runs it on this CPU, on "
            f"{CPU_SIDE}x{CPU_SIDE} crops)" if local else " (tier='official' runs the release on a CPU too, slowly)")
    return tiny("auto: no CUDA GPU here" + hint)


@dataclass
class AtQuantStep:
    """A codec coding at a fixed quantisation step of y, as ``evaluate.evaluate`` sees a codec
    (``name``, ``rate`` = the curve point's index, ``compress``, ``decompress``).
    Used by notebook ``05_rate_perception_curves`` (the official tier's curve)."""

    codec: Any
    quant_step: float
    rate: int

    @property
    def name(self) -> str:
        """The wrapped codec's name (one curve per model)."""
        return self.codec.name

    def compress(self, image: ImageLike) -> bytes:
        """The wrapped codec's bytes at this quantisation step."""
        return self.codec.compress(image, quant_step=self.quant_step)

    def decompress(self, data: bytes, steps: int = 1) -> Image.Image:
        """The wrapped codec's decode (the file records the step)."""
        return self.codec.decompress(data, steps=steps)


@dataclass
class Tier:
    """What a notebook runs on: ``name`` (``"official"`` / ``"tiny"``), ``reason`` (why),
    ``device``, ``dtype`` (official DC-AE and DiT), ``checkpoints`` (official: one per rate point),
    ``requested`` (the tier parameter) and ``side`` (official on a CPU: images are center-cropped
    to at most ``side`` pixels a side; ``None``: full size). Loaded models are kept, one per
    checkpoint file, at most :meth:`max_models` at a time.
    Explained in notebook ``02_variance_and_pseudo_timesteps``."""

    name: str
    reason: str
    device: str
    dtype: str
    checkpoints: list[str]
    requested: str = "auto"
    side: int | None = None
    _models: OrderedDict = field(default_factory=OrderedDict, repr=False)

    @property
    def official(self) -> bool:
        """Whether this run is the released model."""
        return self.name == "official"

    @property
    def rates(self) -> list[int]:
        """Rate ids: the shipped tiny rate points, or one per official checkpoint."""
        if self.official:
            return list(range(len(self.checkpoints)))
        from ..zoo import available_rates
        return available_rates("tiny")

    @property
    def models(self) -> list[str]:
        """The learned codecs of this tier's comparisons: ``tiny`` and its ``mse`` baseline, or ``official``."""
        return ["official"] if self.official else ["tiny", "mse"]

    @property
    def reference_model(self) -> str:
        """The published configuration to show beside this tier's numbers: the release update
        (rank 64/128) for its ``q1``..``q4`` files, else the paper's model (``dl.reference``)."""
        from ..reference import PAPER_MODEL
        from ..reproduce import release_rank

        return (release_rank(self.checkpoints[0]) if self.official and self.checkpoints else None) or PAPER_MODEL

    @property
    def anchors(self) -> list[str]:
        """The BD-rate anchors of notebook 05 that this tier has."""
        return ["webp-ds"] if self.official else ["mse", "webp-ds"]

    def describe(self) -> str:
        """Plain words: the tier, why, and what it costs here."""
        lines = [f"tier: {self.name} ({self.reason})"]
        if self.official:
            from ..reference import UPDATED_MODEL, curve

            names = [Path(c).name for c in self.checkpoints]
            lines.append(f"rate points: {len(names)} checkpoint(s): " + ", ".join(f"rate {i} = {n}" for i, n in enumerate(names)))
            cited = curve("kodak", UPDATED_MODEL)["bpp"].tolist()
            lines.append("the release's q1..q4 reach " + " / ".join(f"{b:.3f}" for b in cited)
                         + " bpp on Kodak (cited from the release, not measured here)")
            note = download_note(self.checkpoints)  # what a download would fetch, if anything
            if note:
                lines.append(note)
            if len(set(self.checkpoints)) == 1:
                lines.append("one checkpoint: one rate point here; the quantisation step of y (notebook 04) "
                             "gives the other points of a curve")
            if self.side:
                lines.append(f"on a CPU: images are center-cropped to at most {self.side}x{self.side} pixels, "
                             "float32, one thread while coding (a round trip takes tens of seconds)")
            else:
                mem = official_memory_gib(self.dtype)
                lines.append(f"on {self.device} in {self.dtype}: {mem['load']:.1f} GiB of GPU memory to load a checkpoint, "
                             f"{mem['weights']:.1f} GiB of weights per loaded rate point; the decoder works in tiles "
                             f"above {TILE_ABOVE} px")
        else:
            lines.append("the kit's tiny DiT-IC (shipped weights, offline); the official release: tier='official'")
        return "\n".join(lines)

    # ------------------------------------------------------------------ parameters and images
    def sized(self, params: SimpleNamespace, official_cpu: dict[str, Any] | None = None) -> SimpleNamespace:
        """``params`` with ``official_cpu``'s values on the official tier on a CPU (work sized
        for minutes per cell), except those set by a ``DITIC_<NAME>`` environment variable."""
        if not (self.official and self.side and official_cpu):
            return params
        values = dict(vars(params))
        changed = {k: v for k, v in official_cpu.items() if os.environ.get(f"DITIC_{k.upper()}") is None}
        values.update(changed)
        if changed:
            print("official tier on a CPU: " + ", ".join(f"{k}={v!r}" for k, v in changed.items()))
        return SimpleNamespace(**values)

    def prepare(self, image: ImageLike) -> Image.Image:
        """The image as this tier codes it: unchanged, or (official on a CPU) its center crop of
        at most ``side`` x ``side`` pixels."""
        pil = as_pil(image)
        if not self.side or (pil.width <= self.side and pil.height <= self.side):
            return pil
        w, h = min(pil.width, self.side), min(pil.height, self.side)
        left, top = (pil.width - w) // 2, (pil.height - h) // 2
        return pil.crop((left, top, left + w, top + h))

    def image(self, name: str | Path, max_side: int | None = MAX_SIDE) -> Image.Image:
        """A photo (sample name, file path or URL: ``notebook.photo_path``), prepared (:meth:`prepare`);
        one larger than ``max_side`` pixels a side is downscaled with a printed note (``images.load_image``)."""
        from ..images import load_image
        from ..notebook import photo_path
        return self.prepare(load_image(photo_path(name), max_side=max_side))

    def images(self, count: int, include: str | Path | None = None,
               max_side: int | None = MAX_SIDE) -> dict[str, Image.Image]:
        """The first ``count`` sample photos, prepared, keyed by ``notebook.photo_label``;
        ``include`` (a sample name, file path or URL) replaces the last of them when it is not
        among them, so the photo a notebook shows is always measured (at most ``max_side`` pixels
        a side, as :meth:`image`)."""
        from ..images import load_image
        from ..notebook import photo_label, photo_path

        chosen = {p.stem: p for p in sample_paths()[:max(0, int(count))]}
        if include and chosen and photo_label(include) not in chosen:
            chosen.pop(list(chosen)[-1])
            chosen[photo_label(include)] = photo_path(include)
        return {label: self.prepare(load_image(path, max_side=max_side)) for label, path in chosen.items()}

    def evaluation_folder(self, count: int | None = None, data: str | Path | None = None,
                          include: str | Path | None = None, max_side: int | None = None) -> tuple[Path, str]:
        """The images of the curves: ``(folder, what)``. ``data``: a folder of photos of your own;
        else (tiny) the sample photos, or (official) Kodak, downloaded once with a progress bar
        (``ditic_lite.data``, checksums) where it is cached or the internet is reachable, else the
        sample photos; on a CPU their crops, written to ``results/``. A failed download says why
        and uses the sample photos. ``include`` (a photo: ``notebook.photo_path``) joins the first
        ``count`` images in place of the last when it is not among them, at most ``max_side``
        pixels a side (:meth:`with_photo`)."""
        from ..data import DATASETS, cache_dir, list_images, resolve
        from ..notebook import samples_dir

        folder, what = samples_dir(), "the sample photos"
        if data:
            folder = Path(data).expanduser().resolve()
            if not folder.is_dir() or not list_images(folder):
                raise FileNotFoundError(f"data={str(data)!r}: not a folder of images (PNG, JPEG, WebP, ...)")
            what = f"the photos in {folder.name}/"
        elif self.official:
            cached = (cache_dir() / DATASETS["kodak"].name / ".complete").exists()
            if cached or online("r0k.us"):
                if not cached:
                    mb = sum(f.size for f in DATASETS["kodak"].files) / 1e6
                    print(f"downloading Kodak once ({DATASETS['kodak'].num_images} PNG files, {mb:.0f} MB) into {cache_dir()}")
                try:
                    folder, what = resolve("kodak", progress=True), "Kodak"
                except Exception as err:  # network, checksum: one clear line, then go on offline
                    print(f"Kodak download failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                          "using the sample photos instead")
            else:
                print("Kodak is not cached and its host is not reachable (offline): using the sample photos")
        if self.side:
            crops = result_path(f"{self.name}_{self.side}px_{'kodak' if what == 'Kodak' else 'samples' if not data else 'data'}")
            crops.mkdir(exist_ok=True)
            from ..images import load_image
            for p in list_images(folder)[:count]:
                target = crops / f"{p.stem}.png"
                if not target.exists():
                    self.prepare(load_image(p)).save(target)
            folder, what = crops, f"{what}, center crops of at most {self.side}x{self.side} px"
        return self.with_photo(folder, what, count, include, max_side) if include else (folder, what)

    def with_photo(self, folder: str | Path, what: str, count: int | None, photo: str | Path,
                   max_side: int | None = None) -> tuple[Path, str]:
        """``(folder, what)`` of the first ``count`` images of ``folder`` with ``photo`` among them:
        unchanged when it is (by ``notebook.photo_label``), else a folder in ``results/`` holding
        copies of them with ``photo`` in place of the last one, at most ``max_side`` pixels a side
        (default :data:`EVALUATION_SIDE`: your photo costs what a sample photo costs; a printed
        note says so) and prepared (:meth:`prepare`). Used by notebook ``05_rate_perception_curves``."""
        import shutil

        from ..data import list_images
        from ..images import load_image
        from ..notebook import photo_label, photo_path

        label = photo_label(photo)
        chosen = list_images(folder)[:count]
        if label in [p.stem for p in chosen]:
            return Path(folder), what
        target = result_path(f"curves_with_{label}")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        kept = chosen[:-1] if len(chosen) else []
        for p in kept:
            shutil.copy(p, target / p.name)
        self.prepare(load_image(photo_path(photo), max_side=max_side or EVALUATION_SIDE)).save(target / f"{label}.png")
        replaced = f" in place of {chosen[-1].stem}" if chosen else ""
        return target, f"{what}, with your photo {label}{replaced}"

    def evaluation_images(self, count: int, folder: str | Path | None = None) -> list[Path]:
        """The first ``count`` images of ``folder`` (default :meth:`evaluation_folder`; notebook 07)."""
        from ..data import list_images
        return list_images(folder if folder is not None else self.evaluation_folder(count)[0])[:count]

    def photo(self, name: str | Path, folder: str | Path) -> Path:
        """The photo ``name`` as a file (notebook 05's spectra): the image of that stem in
        ``folder`` (the images of the curves); else, for a sample name, the first image of
        ``folder``; else the photo itself (``notebook.photo_path``: a file path or URL), on the
        official tier on a CPU as its prepared crop written to ``results/``."""
        from ..data import list_images
        from ..notebook import _is_sample_name, photo_label, photo_path

        images = list_images(folder)
        named = [p for p in images if p.stem == photo_label(name)]
        if named:
            return named[0]
        if _is_sample_name(name):
            return images[0]
        path = photo_path(name)
        if not self.side:
            return path
        from ..images import load_image

        crop = result_path(f"{photo_label(name)}_{self.side}px.png")
        self.prepare(load_image(path)).save(crop)
        return crop

    def published_point(self, mean_bpp: float, rank: str | None, what: str) -> tuple[Any, str]:
        """``(published point, "")`` to compare a run with (``reproduce.published_point``) when it
        ran the release on whole Kodak images, else ``(None, why not)``."""
        from ..reproduce import published_point

        if not self.official:
            return None, "tiny tier: not the official model"
        if what != "Kodak":
            return None, f"measured on {what}, not on the whole Kodak images the release published"
        point = published_point(mean_bpp, rank)
        return point, "" if point is not None else "unknown rank configuration of this checkpoint (set the rank parameter)"

    def matching_codecs(self) -> list[Any]:
        """``learned`` of ``perception.matched_reconstructions`` (notebook 05): the tiny tier's
        names, or the official codec of the lowest rate point."""
        return self.models if not self.official else [self.load(0)]

    def timing_sizes(self, sizes: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
        """Decode sizes to time (notebook 07): ``sizes``, or on the official tier on a CPU one and
        two crops' worth (``side`` x ``side``, 2 ``side`` x ``side``)."""
        from ..reproduce import timing_sizes

        cpu = ((self.side, self.side), (2 * self.side, self.side)) if self.side else None
        return timing_sizes(self.name, self.device, sizes, cpu_sizes=cpu)

    # ------------------------------------------------------------------ codecs
    def max_models(self) -> int:
        """How many official checkpoints stay loaded at once: as many as fit the GPU's memory
        next to one more being loaded (``notebook.official_memory_gib``), 2 on a CPU."""
        if not self.device.startswith("cuda"):
            return 2
        import torch

        total = torch.cuda.get_device_properties(torch.device(self.device)).total_memory / 2 ** 30
        mem = official_memory_gib(self.dtype)
        return max(1, int((total - mem["load"] - 2.0) // mem["weights"]))

    def load(self, rate: int = 0):
        """The codec of rate point ``rate``: ``dl.load("tiny", rate)``, or the official model of
        checkpoint ``rate`` (downloaded once if it is a hub file; one model per file, so one file
        serving several rate points is loaded once), its decoder tiled above :data:`TILE_ABOVE` px."""
        if not self.official:
            from ..zoo import load
            return load("tiny", rate=int(rate), device=self.device)
        rate = int(rate)
        if not 0 <= rate < len(self.checkpoints):
            raise ValueError(f"rate {rate} not available for the official tier; choose from {self.rates}")
        key = self.checkpoints[rate]
        if key not in self._models:
            self._models[key] = self._load_file(key)
            while len(self._models) > self.max_models():
                self._models.popitem(last=False)
                _free_gpu(self.device)
        self._models.move_to_end(key)
        return dataclasses.replace(self._models[key], rate=rate, rates=self.rates)

    def _load_file(self, checkpoint: str):
        import torch

        from ..official import CheckpointNotFoundError, load_codec

        torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.dtype]
        tic = time.perf_counter()
        if download_note([checkpoint]):
            print(f"downloading {Path(checkpoint).name} from the hub: about {CHECKPOINT_GB:.1f} GB, once "
                  "(then cached) ...", flush=True)
        print(f"loading the official checkpoint {Path(checkpoint).name} on {self.device} ({self.dtype}) ...", flush=True)
        try:
            codec = load_codec(checkpoint, device=self.device, dtype=torch_dtype)
        except CheckpointNotFoundError as err:
            raise CheckpointNotFoundError(f"{err} (or run this notebook on the kit's model: tier='tiny')") from None
        codec.model.vae.enable_tiling(tile_sample_min_height=TILE_ABOVE, tile_sample_min_width=TILE_ABOVE,
                                      tile_sample_stride_height=TILE_ABOVE - 256, tile_sample_stride_width=TILE_ABOVE - 256)
        print(f"loaded in {time.perf_counter() - tic:.0f} s", flush=True)
        return codec

    def loader(self) -> Callable[[str, int], Any] | None:
        """For ``teaching.CodecCache(loader=...)``: ``None`` on the tiny tier (the cache loads
        ``tiny`` and ``mse`` itself), else ``(name, rate) -> codec`` of this tier."""
        return None if not self.official else (lambda name, rate: self.load(rate))

    def curve_codecs(self) -> list[Any]:
        """The official tier's points of a rate curve (notebook 05): each rate point at step 1,
        or with one checkpoint its quantisation steps :data:`SINGLE_FILE_QUANT_STEPS`
        (:class:`AtQuantStep`, ``rate`` = the point's index)."""
        if len(self.rates) > 1:
            return [AtQuantStep(self.load(r), 1.0, r) for r in self.rates]
        return [AtQuantStep(self.load(0), q, i) for i, q in enumerate(SINGLE_FILE_QUANT_STEPS)]

    def rd_table(self, folder: str | Path, what: str, max_images: int | None, metrics: Sequence[str]):
        """Notebook 05's per-image table on this tier: ``teaching.rd_table`` on the tiny tier;
        on the official tier its curve (:meth:`curve_codecs`) and the Pillow baselines on the
        same images (``evaluate.evaluate``, with a progress bar)."""
        from ..evaluate import evaluate
        from .rate_curves import rd_table

        if not self.official:
            return rd_table(folder, max_images=max_images, metrics=metrics)
        codecs = self.curve_codecs()
        if len(self.rates) == 1:
            print(f"curve of the one checkpoint at quantisation steps {list(SINGLE_FILE_QUANT_STEPS)} (rate ids 0..2)")
        print(f"coding {what}: {max_images or 'all'} image(s) with {len(codecs)} official point(s) and Pillow")
        import pandas as pd
        official_part = evaluate(folder, codecs, metrics=list(metrics), max_images=max_images, progress=True)
        pillow = evaluate(folder, ["jpeg", "webp", "webp-ds"], metrics=list(metrics), rates=[0, 1, 2, 3],
                          max_images=max_images, progress=True)
        return pd.concat([official_part, pillow], ignore_index=True)


def _free_gpu(device: str) -> None:
    if str(device).startswith("cuda"):
        import gc

        import torch
        gc.collect()
        torch.cuda.empty_cache()
