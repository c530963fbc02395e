"""``ditic-lite`` command line: compress, decompress, info, demo, train, eval, plot, bench, claims.

Each module that owns a command contributes it with ``add_cli(subparsers)``; this file only
dispatches and turns expected errors into one ``error: ...`` line with exit status 2. Every import
beyond the standard library happens inside the command that needs it, and a command's module is
loaded only when that command runs (or for the full ``--help``): ``info`` never imports torch,
``decompress`` imports only what decoding needs.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .container import DecodeError


COMMAND_MODULES = {"train": "training.cli", "eval": "evaluate", "plot": "evaluate", "bench": "bench", "claims": "claims"}
"""Commands contributed by other modules (command -> module with its ``add_cli``)."""


def _cmd_compress(args: argparse.Namespace) -> int:
    from . import container
    from .images import load_image
    from .sizes import bits_per_pixel
    from .zoo import load

    container.quant_step_index(args.quant_step)  # a bad step is refused before any loading
    image = load_image(args.input, max_side=_max_side(args))
    codec = load(args.model, rate=args.rate)
    tic = time.perf_counter()
    data = codec.compress(image, quant_step=args.quant_step)
    seconds = time.perf_counter() - tic
    Path(args.output).write_bytes(data)
    bpp = bits_per_pixel(len(data), image.height, image.width)
    step = container.unpack(data)[0].quant_step
    print(f"{args.output}: {len(data)} bytes, {bpp:.4f} bpp ({image.width}x{image.height}, "
          f"model {args.model} rate {args.rate}, quant step {step:.3g}, {seconds:.2f} s)")
    return 0


def _max_side(args: argparse.Namespace) -> int | None:
    """``--max-side``: 0 = full size."""
    if args.max_side < 0:
        raise ValueError(f"--max-side must be 0 (full size) or a number of pixels, got {args.max_side}")
    return args.max_side or None


def _add_max_side(p: argparse.ArgumentParser, default: int | None = None) -> None:
    from .sizes import MAX_SIDE

    p.add_argument("--max-side", type=int, default=default or MAX_SIDE, metavar="PX",
                   help="downscale a larger photo so its longer side is PX (default %(default)s; 0: full size)")


def _read_bytes(path: str) -> bytes:
    """Read a .ditic file, at most one byte past the format's limit (a device or FIFO never hangs)."""
    from .container import MAX_FILE_BYTES

    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise DecodeError(f"{path}: larger than the limit of {MAX_FILE_BYTES} bytes for a .ditic file")
    return data


def _codec_for(data: bytes):
    from . import container
    from .registry import CODECS
    from .zoo import load

    header, _ = container.unpack(data)
    needs_checkpoint = header.model in CODECS and not CODECS[header.model].from_name
    return None if needs_checkpoint else load(header.model, rate=header.rate), header


def _cmd_decompress(args: argparse.Namespace) -> int:
    data = _read_bytes(args.input)
    codec, header = _codec_for(data)
    if codec is None:
        raise DecodeError("files of the official model decode with ditic_lite.load('official', checkpoint=...)")
    tic = time.perf_counter()
    image = codec.decompress(data, steps=args.steps, decoder=args.decoder)
    seconds = time.perf_counter() - tic
    image.save(args.output)
    print(f"{args.output}: {image.width}x{image.height}, {args.steps} step(s), {args.decoder} decoder, {seconds:.2f} s")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from . import container
    from .sizes import bits_per_pixel

    data = _read_bytes(args.input)
    header, streams = container.unpack(data)
    print(f"model:       {header.model}")
    print(f"rate:        {header.rate}")
    print(f"quant step:  {header.quant_step:.4g}" + (" (as trained)" if header.quant_step_index == 0 else ""))
    print(f"checkpoint:  {header.checkpoint_id.hex()}")
    print(f"image:       {header.width}x{header.height}")
    print(f"streams:     y {len(streams[0])} bytes, z {len(streams[1]) if len(streams) > 1 else 0} bytes")
    print(f"file:        {len(data)} bytes, {bits_per_pixel(len(data), header.height, header.width):.4f} bpp")
    return 0


DEMO_PHOTO = "kite"
"""The demo's photo when none is given (a sample name: ``notebook.photo_path``)."""
DEMO_TOP_BPP = 0.1
"""The demo refines the quantisation step of the highest rate point until about this rate (where
the paper's curves end and the tiny model is at its best)."""
DEMO_QUANT_STEPS = (0.5, 0.25, 0.125, 0.0625)
"""The finer quantisation steps the demo tries, in order, at the highest rate point."""
DEMO_MAX_SIDE = 1024
"""The demo codes a photo at most this many pixels a side (``--max-side``): it codes the photo
five or six times, which at 1024x768 takes about a minute on a 2-core CPU, and its figure shows a
thumbnail and 128-pixel crops."""


def _demo_file(base: Path, rate: int, quant_step: float, several: bool) -> Path:
    """``base`` itself for one point; ``<stem>_rate<r>[_q<step>]<suffix>`` beside it for several."""
    if not several:
        return base
    step = "" if quant_step == 1.0 else f"_q{quant_step:g}"
    return base.with_name(f"{base.stem}_rate{rate}{step}{base.suffix}")


def _parse_zoom(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        x, y, size = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--zoom takes X,Y,SIZE in pixels (e.g. 480,130,96), got {text!r}") from None
    return x, y, size


def _check_zoom(box: tuple[int, int, int], width: int, height: int) -> None:
    x, y, size = box
    if size < 1 or x < 0 or y < 0 or x + size > width or y + size > height:
        raise ValueError(f"--zoom {x},{y},{size} is not a square inside the {width}x{height} photo")


def demo_points(image, model: str, rate: int | None = None, bitstream: Path | None = None):
    """The demo's rate ladder as real files: the lowest and highest rate points of ``model``,
    then the highest at finer quantisation steps (:data:`DEMO_QUANT_STEPS`) until about
    :data:`DEMO_TOP_BPP`; with ``rate`` that one point. Returns ``(label, path, bytes, codec)``
    per point, fewest bytes first; each file is written, then read back (what is decoded is
    what the file holds)."""
    from .metrics import bits_per_pixel
    from .zoo import available_rates, load

    rates = available_rates(model) if rate is None else [rate]
    ladder = [(r, 1.0) for r in dict.fromkeys([rates[0], rates[-1]])]
    points, codecs = [], {}
    for i, (r, step) in enumerate(ladder + [(rates[-1], q) for q in (DEMO_QUANT_STEPS if rate is None else ())]):
        codec = codecs[r] if r in codecs else codecs.setdefault(r, load(model, rate=r))
        path = _demo_file(bitstream, r, step, several=rate is None)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(codec.compress(image, quant_step=step))
        data = path.read_bytes()
        label = f"rate {r}" + ("" if step == 1.0 else f", q {step:g}")
        points.append((label, path, data, codec))
        if i >= len(ladder) - 1 and bits_per_pixel(len(data), image.height, image.width) >= 0.9 * DEMO_TOP_BPP:
            break
    return points


def _cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: code a photo (sample name, file or URL) into real files across the
    tiny model's rate range, decode each, and save a figure: the original, magnified crops of
    the subject at every rate and a classical codec in no more bytes, with what to look for."""
    import matplotlib

    matplotlib.use("Agg")  # the figure goes to a file: no window, whatever display there is
    from .baselines import pillow_codec
    from .images import load_image
    from .metrics import MS_SSIM_MIN_SIDE, bits_per_pixel, ms_ssim, psnr
    from .notebook import figure_path, photo_label, photo_path, result_path
    from .teaching.common import subject_box
    from .viz import zoom_rows

    photo = photo_path(args.input)
    label = photo_label(args.input)
    image = load_image(photo, max_side=_max_side(args))
    zoom = _parse_zoom(args.zoom)
    if zoom is not None:
        _check_zoom(zoom, image.width, image.height)
        box, what = zoom, f"the square you chose (--zoom {args.zoom})"
    else:
        box, what = subject_box(image, photo, size=min(128, image.width, image.height))
    bitstream = Path(args.bitstream) if args.bitstream else result_path(f"demo_{label}.ditic")
    figure = Path(args.figure) if args.figure else figure_path(
        "demo_side_by_side.png" if args.input == DEMO_PHOTO else f"demo_{label}.png")

    lines, measured = [], []

    def panel(name: str, data: bytes, rec) -> tuple[str, object]:
        bpp = bits_per_pixel(len(data), image.height, image.width)
        quality = psnr(image, rec)
        measured.append((bpp, quality))
        structure = (f", MS-SSIM {ms_ssim(image, rec):.3f}" if min(image.size) >= MS_SSIM_MIN_SIDE
                     else f" (MS-SSIM needs {MS_SSIM_MIN_SIDE} px a side)")
        lines.append(f"{name}: {len(data)} bytes, {bpp:.3f} bpp, PSNR {quality:.2f} dB{structure}")
        return f"{name}\n{len(data)} B, {bpp:.3f} bpp\nPSNR {quality:.1f} dB", rec

    points = demo_points(image, args.model, args.rate, bitstream)
    rows = {f"DiT-IC {args.model}, 1 step": [panel(name, data, codec.decompress(data)) for name, _, data, codec in points]}
    if args.decoder == "both" and points[0][3].realism is not None:  # the same files, the decoder that adds detail back
        rows[f"DiT-IC {args.model}, realism decoder"] = [
            panel(f"realism, {name}", data, codec.decompress(data, decoder="realism")) for name, _, data, codec in points]
    beside = []
    if args.baseline != "none":  # the same photo from a classical codec, in at most as many bytes
        baseline, budget = pillow_codec(args.baseline), max(len(data) for _, _, data, _ in points)
        data, _ = baseline.at_bpp(image, bits_per_pixel(budget, image.height, image.width))
        fits = "same bytes or fewer" if len(data) <= budget else "its smallest file"
        beside.append(panel(f"{args.baseline} ({fits})", data, baseline.decode(data)))
    span = (f"; rate {measured[0][0]:.3f} to {measured[len(points) - 1][0]:.3f} bpp, PSNR {measured[0][1]:.1f} to "
            f"{measured[len(points) - 1][1]:.1f} dB" if len(points) > 1 else "")
    caption = (f"Look at {what}. Left to right: more bytes (q < 1: a finer quantisation step of y at the highest "
               f"rate point){span}." + (" The realism decoder's row decodes the same files: it adds a fine grain where "
                                        "the other blurs, and pays a little PSNR." if len(rows) > 1 else ""))
    title = f"{args.model} DiT-IC on {photo.name}: magnified crops of the yellow square"
    fig = zoom_rows(image, rows, box, title, caption, beside=beside)
    figure.parent.mkdir(parents=True, exist_ok=True)
    from .viz import figure_bytes

    figure.write_bytes(figure_bytes(fig, figure.suffix.lower().lstrip(".") or "png", dpi=110))
    print("\n".join(lines))
    print(f"wrote {', '.join(str(p) for _, p, _, _ in points)} and {figure}")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; for ``command`` (the one about to run) only what it needs:
    a built-in command loads none of :data:`COMMAND_MODULES`, another one only its own module."""
    from .registry import PILLOW, TINY, names  # the codec-name table: standard library only

    parser = argparse.ArgumentParser(prog="ditic-lite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compress", help="code an image into a .ditic file")
    p.add_argument("input"), p.add_argument("output")
    p.add_argument("--model", default="tiny", help=f"{' or '.join(names(TINY))} (default: %(default)s)")
    p.add_argument("--rate", type=int, default=0, help="rate point index (see `ditic-lite info`)")
    p.add_argument("--quant-step", type=float, default=1.0,
                   help="quantisation step of y, 1/16..16 (default 1 = as trained; 2 about a third fewer bytes)")
    _add_max_side(p)
    p.set_defaults(func=_cmd_compress)

    p = sub.add_parser("decompress", help="decode a .ditic file into an image")
    p.add_argument("input"), p.add_argument("output")
    p.add_argument("--steps", type=int, default=1, help="Euler steps of the flow (1 = one-step)")
    p.add_argument("--decoder", default="fidelity", choices=["fidelity", "realism"],
                   help="realism: the same file, decoded by the decoder that adds fine detail back (default: %(default)s)")
    p.set_defaults(func=_cmd_decompress)

    p = sub.add_parser("info", help="print the header of a .ditic file")
    p.add_argument("input")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demo", help="code a photo across the rate range, write a figure of zoomed crops")
    p.add_argument("input", nargs="?", default=DEMO_PHOTO,
                   help="a sample name (kite, balloons, ladybird), a photo file or an http(s) URL (default: %(default)s)")
    p.add_argument("--model", default="tiny", help=f"{' or '.join(names(TINY))} (default: %(default)s)")
    p.add_argument("--rate", type=int, default=None,
                   help="one rate point (default: the lowest and highest, then finer quantisation steps to ~0.1 bpp)")
    p.add_argument("--decoder", default="both", choices=["both", "fidelity"],
                   help="both: also decode every file with the realism decoder, where the model ships one "
                        "(default: %(default)s)")
    p.add_argument("--zoom", default=None, metavar="X,Y,SIZE",
                   help="the square to magnify, in pixels (default: the sample's subject, else the most textured square)")
    p.add_argument("--baseline", default="webp-ds", choices=[*(n for n in names(PILLOW) if n.endswith("-ds")), "none"],
                   help="classical codec shown in at most the bytes of the largest file (default: %(default)s)")
    p.add_argument("--bitstream", default=None,
                   help="file written (default results/demo_<photo>.ditic; with several points "
                        "<stem>_rate<r>[_q<step>].ditic beside it)")
    p.add_argument("--figure", default=None,
                   help="figure written (default figures/demo_side_by_side.png for the kite, else figures/demo_<photo>.png)")
    _add_max_side(p, default=DEMO_MAX_SIDE)
    p.set_defaults(func=_cmd_demo)

    if command in sub.choices:  # a built-in command: no other module is needed
        return parser
    wanted = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for module in dict.fromkeys(wanted):
        try:
            mod = importlib.import_module(f"ditic_lite.{module}")
        except ImportError as err:  # an optional command whose dependencies are missing
            missing = str(err)
            for name in (c for c, m in COMMAND_MODULES.items() if m == module):
                q = sub.add_parser(name, help=f"(unavailable: {missing})")
                q.set_defaults(func=lambda a, m=missing: _unavailable(m))
            continue
        mod.add_cli(sub)
    return parser


def _unavailable(message: str) -> int:
    raise RuntimeError(f"this command is unavailable: {message}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)  # the only options before it: -h
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (DecodeError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError,
            RuntimeError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, FileNotFoundError) and err.filename:
            message = f"no such file: {err.filename}"
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
