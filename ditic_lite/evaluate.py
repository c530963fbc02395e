"""Rate-distortion evaluation of any codecs on any folder of images -> a tidy table.

One row per (image, codec, rate, steps): real file bytes and bpp, the metrics, and encode /
decode seconds. ``ditic-lite eval`` writes it as CSV; ``ditic-lite plot`` draws the curves.
``ditic-lite eval --compare FOLDER ...`` measures checkpoint folders against each other instead
(:func:`compare_checkpoints`), to choose between the candidates of a training run.

>>> df = evaluate("data/samples", ["jpeg", "webp", "tiny"])   # doctest: +SKIP
>>> plots.plot_rd(df, reference_dataset="kodak")              # doctest: +SKIP

Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from . import metrics as M
from . import registry
from .baselines import codec_rates, get_codec, pillow_codec
from .data import list_images, resolve
from .images import ImageLike, load_image, to_pil, to_tensor

if TYPE_CHECKING:
    from .codec import Codec
    from .realism import TextureHead


def _is_pillow(name: str) -> bool:
    return (entry := registry.find(name)) is not None and entry.kind == registry.PILLOW


def _takes_steps(name: str) -> bool:
    """Whether the decoder of codec ``name`` runs the DiT flow; the others get ``steps = 0``."""
    return (entry := registry.find(name)) is not None and entry.dit_steps


def select_metrics(names: Sequence[str] | str | None = None) -> list[str]:
    """Metric names to compute. ``None`` / ``"auto"``: PSNR, MS-SSIM and whichever of LPIPS / DISTS
    can load their weights here (a note says which could not). Named metrics (a list or a comma
    string) must be available."""
    if names is None or names == "auto" or list(names) == ["auto"]:
        chosen = ["psnr", "ms_ssim"]
        for name in M.NEEDS_WEIGHTS:
            if M.available(name):
                chosen.append(name)
            else:
                print(f"note: skipping {name}: {_reason(name)}")
        return chosen
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in M.METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {sorted(M.METRICS)} or 'auto'")
    for name in names:
        M.require(name)  # MetricUnavailable with the reason, before any coding starts
    return names


def _reason(name: str) -> str:
    try:
        M.require(name)
        return "available"
    except M.MetricUnavailable as err:
        return str(err)


def _named_images(data: str | Path | Mapping[str, ImageLike], max_images: int | None,
                  progress: bool = True) -> dict[str, Image.Image]:
    """The first ``max_images`` images to code, by name: those of a mapping, else those of a folder
    or data set, by their path in it."""
    if isinstance(data, Mapping):
        return {name: to_pil(to_tensor(image)) for name, image in list(data.items())[:max_images]}
    folder = resolve(data, progress=progress)
    paths = list_images(folder)[:max_images]
    if not paths:
        raise FileNotFoundError(f"{folder}: no images found")
    return {str(p.relative_to(folder)): load_image(p) for p in paths}


def evaluate(
    data: str | Path | Mapping[str, ImageLike],
    codecs: Sequence[str | registry.CodecLike],
    steps: Sequence[int] = (1,),
    metrics: Sequence[str] | str | None = None,
    rates: Sequence[int] | None = None,
    target_bpp: Sequence[float] | None = None,
    max_images: int | None = None,
    fid: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Code every image of ``data`` with every codec at every rate; return the per-image table.

    Args:
        data: a folder of images, a data-set name (``kodak``, ``clic2020``, ``div2k``), or images
            by name.
        codecs: names accepted by :func:`ditic_lite.baselines.get_codec`, or codec objects
            (evaluated at their own rate).
        steps: decoding steps tried for codecs whose decoder runs the DiT flow (``tiny``).
        metrics: see :func:`select_metrics`.
        rates: rate ids to run (default: all of each codec).
        target_bpp: for Pillow codecs, hit these bpp per image (binary search over quality)
            instead of the fixed quality ladder; rate id = index in this list.
        max_images: use only the first N images (sorted by name).
        fid: add data-set level patch FID / KID per (codec, rate, steps), repeated on its rows.

    Columns: image, codec, rate, quality (Pillow only), steps (0 = no diffusion), height, width,
    bytes, bpp, one per metric, encode_s, decode_s [, fid, kid].
    """
    images = list(_named_images(data, max_images, progress).items())
    names = select_metrics(metrics)
    fid_acc: dict[tuple, M.PatchFIDKID] = {}

    jobs = []  # (codec name or object, rate id, pillow target or None)
    for name in codecs:
        if not isinstance(name, str):  # an already built codec, at its own rate
            jobs.append((name, getattr(name, "rate", 0), None))
            continue
        key = name.lower()
        if target_bpp is not None and _is_pillow(key):
            jobs += [(key, i, t) for i, t in enumerate(target_bpp)]
        else:
            jobs += [(key, r, None) for r in (rates if rates is not None else codec_rates(key))]
    rows = []
    bar = tqdm(total=len(jobs) * len(images), desc="eval", disable=not progress)
    for name, rate, target in jobs:
        if isinstance(name, str):
            codec = pillow_codec(name) if target is not None else get_codec(name, rate)
        else:
            codec, name = name, name.name
        step_list = list(steps) if _takes_steps(name) else [0]
        for image_name, img in images:
            t0 = time.perf_counter()
            if target is not None:
                data_bytes, quality = codec.at_bpp(img, target)
            else:
                data_bytes, quality = codec.compress(img), getattr(codec, "quality", None)
            encode_s = time.perf_counter() - t0
            for k in step_list:
                t0 = time.perf_counter()
                rec = codec.decompress(data_bytes, steps=k) if k else codec.decompress(data_bytes)
                decode_s = time.perf_counter() - t0
                if rec.size != img.size:
                    raise RuntimeError(f"{name} returned {rec.size} for a {img.size} image")
                rows.append({
                    "image": image_name, "codec": name, "rate": rate, "quality": quality, "steps": k,
                    "height": img.height, "width": img.width, "bytes": len(data_bytes),
                    "bpp": M.bits_per_pixel(len(data_bytes), img.height, img.width),
                    **M.scores(img, rec, names, warn=True), "encode_s": encode_s, "decode_s": decode_s,
                })
                if fid:
                    fid_acc.setdefault((name, rate, k), M.PatchFIDKID()).update(img, rec)
            bar.update()
    bar.close()
    df = pd.DataFrame(rows)
    if fid:
        scores = {key: acc.compute() for key, acc in fid_acc.items()}
        keys = list(zip(df["codec"], df["rate"], df["steps"]))
        df["fid"] = [scores[k]["fid"] for k in keys]
        df["kid"] = [scores[k]["kid"] for k in keys]
    return df


# ---------------------------------------------------------------------------------------------
# command line: ditic-lite eval / ditic-lite plot
# ---------------------------------------------------------------------------------------------

def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t]


def _floats(text: str) -> list[float]:
    return [float(t) for t in text.split(",") if t]


def _run_eval(args: argparse.Namespace) -> int:
    if args.compare:
        return _run_compare(args)
    df = evaluate(
        args.data, [c.strip() for c in args.codecs.split(",") if c.strip()], steps=_ints(args.steps),
        metrics=args.metrics.split(","), rates=_ints(args.rates) if args.rates else None,
        target_bpp=_floats(args.target_bpp) if args.target_bpp else None, max_images=args.max_images,
        fid=args.fid, progress=not args.quiet,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    from .plots import rate_points
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(rate_points(df).round(4).to_string(index=False))
    print(f"wrote {out} ({len(df)} rows)")
    if args.plot:
        _save_plot(df, args.plot, args.reference)
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    table = compare_checkpoints(args.compare, comparison_photos(args.data, args.max_images),
                                rates=_ints(args.rates) if args.rates else None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    with pd.option_context("display.width", 200):
        print(table.groupby(["folder", "codec", "rate"], sort=False)[CHECKPOINT_MEASURES].mean().round(4))
        gains = [detail_gain(table)] + ([detail_gain(table, anchor_codec="tiny")] if len(args.compare) > 1 else [])
        print("detail error of the anchor minus DiT-IC's, same rate point and photo (> 0: DiT-IC closer "
              "to the original's fine detail):")
        print(pd.concat(gains, ignore_index=True).round(3).to_string(index=False))
    print(f"wrote {out} ({len(table)} rows)")
    return 0


def _save_plot(df: pd.DataFrame, out: str | Path, reference_dataset: str | None,
               metrics: Sequence[str] | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from .plots import plot_rd

    fig = plot_rd(df, metrics=metrics, reference_dataset=reference_dataset)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def _run_plot(args: argparse.Namespace) -> int:
    path = Path(args.results)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file (write one with `ditic-lite eval`)")
    df = pd.read_csv(path)
    if "bpp" not in df.columns:
        raise ValueError(f"{path}: not a results table (no 'bpp' column)")
    _save_plot(df, args.out or path.with_suffix(".png"), args.reference,
               args.metrics.split(",") if args.metrics else None)
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval`` and ``plot`` on the ``ditic-lite`` command."""
    p = subparsers.add_parser("eval", help="rate-distortion table of codecs on a folder of images",
                              description="Code every image with every codec and rate; write a tidy CSV.")
    p.add_argument("--data", required=True, help="image folder, or kodak / clic2020 / div2k (downloaded)")
    p.add_argument("--codecs", default="tiny,jpeg,webp",
                   help=f"comma list of {', '.join(registry.names(registry.TINY, registry.PILLOW))} "
                        "or CompressAI zoo names (default: %(default)s)")
    p.add_argument("--steps", default="1", help="decoding steps of diffusion codecs, comma list (default: 1)")
    p.add_argument("--rates", default=None, help="rate ids, comma list (default: all)")
    p.add_argument("--target-bpp", default=None,
                   help=f"for {'/'.join(registry.names(registry.PILLOW))}: hit these bpp per image instead")
    p.add_argument("--metrics", default="auto", help="comma list of psnr, ms_ssim, lpips, dists, or auto")
    p.add_argument("--fid", action="store_true", help="also patch FID/KID per codec and rate (needs Inception weights)")
    p.add_argument("--max-images", type=int, default=None, help="only the first N images")
    p.add_argument("--out", default="results/results.csv", help="CSV to write (default: %(default)s)")
    p.add_argument("--plot", default=None, help="also save the rate-distortion plot here (.png)")
    p.add_argument("--reference", default=None, help="overlay the paper's curve: kodak, clic2020 or div2k")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--compare", nargs="+", default=None, metavar="FOLDER",
                   help="compare checkpoint folders instead of codecs: DiT-IC at every rate point (or --rates) of "
                        "each folder and the first folder's MSE baseline, per photo bytes, bpp, PSNR, MS-SSIM and "
                        "fine-detail retention; a training collection as --data gives its six held-out photos")
    p.set_defaults(func=_run_eval)

    q = subparsers.add_parser("plot", help="rate-distortion curves from an eval CSV",
                              description="Draw bpp vs PSNR / MS-SSIM (/ LPIPS / DISTS) per codec.")
    q.add_argument("results", help="CSV written by `ditic-lite eval`")
    q.add_argument("--out", default=None, help="image to write (default: next to the CSV, .png)")
    q.add_argument("--reference", default=None, help="overlay the paper's curve: kodak, clic2020 or div2k")
    q.add_argument("--metrics", default=None, help="comma list of metric columns (default: all present)")
    q.set_defaults(func=_run_plot)


# ------------------------------------------------------------------ the same files, two decoders

def compare_decoders(codec: Codec, photos: Mapping[str, ImageLike], rates: Sequence[int] | None = None,
                     heads: dict[str, TextureHead] | None = None,
                     filters: Mapping[str, Callable[[Image.Image], Image.Image]] | None = None) -> pd.DataFrame:
    """Code each photo (``name -> image or path``) once per rate point and decode the SAME bytes
    with every decoder.

    ``heads`` maps a label to a texture head (default: ``{"realism": codec.realism}``); the
    fidelity decoder is always there. ``filters`` maps a label to a function applied to the
    fidelity decoder's image (e.g. :func:`ditic_lite.realism.sharpen_detail`, a yardstick that
    draws nothing). One row per photo, rate point and decoder: ``bytes``,
    ``bpp``, ``psnr``, ``ms_ssim``, the Laplacian detail measures
    (:func:`ditic_lite.spectrum.laplacian_detail`) and ``decode_s`` (the whole decode).
    """
    from . import zoo

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
                    rows.append(_decoder_row(image, name, rate, label, data, decoded, seconds))
                    if head is None:
                        fidelity, fidelity_s = decoded, seconds
                for label, apply in (filters or {}).items():  # on the fidelity image decoded above
                    tic = time.perf_counter()
                    decoded = apply(fidelity)
                    rows.append(_decoder_row(image, name, rate, label, data, decoded,
                                             fidelity_s + time.perf_counter() - tic))
    finally:
        codec.realism = shipped
    return pd.DataFrame(rows)


def _decoder_row(image: Image.Image, name: str, rate: int, decoder: str, data: bytes, decoded: Image.Image,
                 seconds: float) -> dict[str, Any]:
    from .spectrum import laplacian_detail

    return {"image": name, "rate": rate, "decoder": decoder, "bytes": len(data),
            "bpp": M.bits_per_pixel(len(data), image.height, image.width),
            "psnr": M.psnr(image, decoded), "ms_ssim": M.ms_ssim(image, decoded),
            **laplacian_detail(image, decoded), "decode_s": seconds}


TRADEOFF_MEASURES = ["bpp", "psnr", "ms_ssim", "detail_ratio", "block_correlation", "flat_block_ratio", "decode_s"]


def tradeoff_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Medians over the photos of a :func:`compare_decoders` table, per rate point and decoder
    (with the heads' ``adversarial_weight``, ``energy_weight`` and ``steps`` where the table has them)."""
    keys = ["rate", "decoder"] + [k for k in ("adversarial_weight", "energy_weight", "steps") if k in table]
    grouped = table.groupby(keys, dropna=False)[TRADEOFF_MEASURES].median().reset_index()
    fidelity = grouped[grouped["decoder"] == "fidelity"].set_index("rate")["psnr"]
    grouped["psnr_cost"] = grouped["rate"].map(fidelity) - grouped["psnr"]
    return grouped


def tradeoff(codec: Codec) -> pd.DataFrame:
    """The trade-off measured when the shipped realism decoder was made (its card's ``tradeoff``):
    one row per rate point and decoder, medians over the held-out photos."""
    rows = codec.card.get("realism", {}).get("tradeoff")
    if not rows:
        raise ValueError(f"'{codec.name}' carries no measured trade-off (its realism card has none)")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- checkpoint folders, one table

CHECKPOINT_METRICS = ["psnr", "ms_ssim", "detail"]
CHECKPOINT_MEASURES = ["bytes", "bpp", *CHECKPOINT_METRICS]
"""The columns of :func:`compare_checkpoints` after folder, codec, rate and image."""


def comparison_photos(data: str | Path, max_images: int | None = None) -> dict[str, ImageLike]:
    """The photos of ``ditic-lite eval --compare``: the six held-out photos of a training collection
    (``training.data.VALIDATION``, 768x512 like ``data/samples``), else the images of a folder or
    data set; each by its path in ``data``, the first ``max_images``."""
    from .training.data import VALIDATION, validation_images

    held_out = validation_images(Path(data))
    if held_out:
        return dict(zip(VALIDATION[:max_images], held_out))
    return dict(_named_images(data, max_images))


def compare_checkpoints(folders: Sequence[str | Path], photos: Mapping[str, ImageLike],
                        rates: Sequence[int] | None = None) -> pd.DataFrame:
    """Code every photo (``name -> image``) with DiT-IC (``tiny``) at each rate point of each
    checkpoint folder, and with the first folder's MSE baseline (real file bytes, :func:`evaluate`).

    A folder has the layout of ``ditic_lite/checkpoints`` (a training run's export). ``rates``:
    the rate points to code (default: every one a folder has). One row per folder, codec, rate
    point and photo: :data:`CHECKPOINT_MEASURES`, where ``detail`` is
    :func:`ditic_lite.spectrum.detail_retention` (1 = the original's fine-detail energy).
    """
    from . import zoo

    if len({str(f) for f in folders}) < len(folders):
        raise ValueError(f"each checkpoint folder once, got {[str(f) for f in folders]}")
    columns = ["folder", "codec", "rate", "image", *CHECKPOINT_MEASURES]
    parts = []
    for index, folder in enumerate(folders):
        for name in ("tiny", "mse") if index == 0 else ("tiny",):
            for rate in rates if rates is not None else zoo.available_rates(name, Path(folder)):
                codec = zoo.load(name, rate=rate, checkpoints=Path(folder))
                table = evaluate(photos, [codec], metrics=CHECKPOINT_METRICS, progress=False)
                parts.append(table.assign(folder=str(folder))[columns])
    return pd.concat(parts, ignore_index=True)


def detail_gain(table: pd.DataFrame, anchor_folder: str | None = None, anchor_codec: str = "mse") -> pd.DataFrame:
    """Per folder of a :func:`compare_checkpoints` table, the paired difference of the detail error
    ``|log2 detail|`` (:func:`ditic_lite.spectrum.detail_error`): the anchor's minus DiT-IC's at the
    same rate point and photo (> 0: DiT-IC closer to the original's fine detail).

    The anchor is ``anchor_codec`` of ``anchor_folder`` (default: the first folder's MSE baseline).
    Columns: ``folder``, ``anchor``, ``mean``, ``stderr`` (of the mean), ``n`` (pairs).
    """
    from .spectrum import detail_error

    anchor_folder = str(table["folder"].iloc[0]) if anchor_folder is None else anchor_folder
    pair = ["rate", "image"]
    anchor = table[(table["folder"] == anchor_folder) & (table["codec"] == anchor_codec)].set_index(pair)["detail"]
    if anchor.empty:
        raise ValueError(f"no rows of '{anchor_codec}' in {anchor_folder}")
    rows = []
    for folder, group in table[table["codec"] == "tiny"].groupby("folder", sort=False):
        diff = (detail_error(anchor) - detail_error(group.set_index(pair)["detail"])).dropna().to_numpy()
        rows.append({"folder": folder, "anchor": f"{anchor_codec} of {anchor_folder}", "mean": diff.mean(),
                     "stderr": diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan, "n": len(diff)})
    return pd.DataFrame(rows)
