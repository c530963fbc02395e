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


COMMAND_MODULES = {"train": "train", "eval": "evaluate", "plot": "evaluate", "bench": "bench", "claims": "claims"}
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


def _add_max_side(p: argparse.ArgumentParser) -> None:
    from .sizes import MAX_SIDE

    p.add_argument("--max-side", type=int, default=MAX_SIDE, metavar="PX",
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
    image = codec.decompress(data, steps=args.steps)
    seconds = time.perf_counter() - tic
    image.save(args.output)
    print(f"{args.output}: {image.width}x{image.height}, {args.steps} step(s), {seconds:.2f} s")
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


def _demo_path(path: str, rate: int, several: bool) -> Path:
    """``path`` itself for one rate point; ``<stem>_rate<r><suffix>`` beside it for several."""
    p = Path(path)
    return p.with_name(f"{p.stem}_rate{rate}{p.suffix}") if several else p


def _cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: code a sample photo at every rate point (real files), decode each,
    and save the original, the reconstructions, a classical codec in no more bytes and zoomed crops."""
    import matplotlib

    matplotlib.use("Agg")  # the figure goes to a file: no window, whatever display there is
    from .baselines import pillow_codec
    from .images import load_image
    from .metrics import bits_per_pixel, ms_ssim, psnr
    from .teaching.quickstart import zoom_box
    from .viz import side_by_side
    from .zoo import available_rates, load

    image = load_image(args.input)
    rates = available_rates(args.model) if args.rate is None else [args.rate]
    images, titles, lines, written = [image], ["original"], [], []

    def show(label: str, data: bytes, rec) -> None:
        bpp = bits_per_pixel(len(data), image.height, image.width)
        quality = f"PSNR {psnr(image, rec):.2f} dB, MS-SSIM {ms_ssim(image, rec):.3f}"
        images.append(rec)
        titles.append(f"{label}\n{len(data)} bytes, {bpp:.3f} bpp\n{quality}")
        lines.append(f"{label}: {len(data)} bytes, {bpp:.3f} bpp, {quality}")

    for rate in rates:
        codec = load(args.model, rate=rate)
        path = _demo_path(args.bitstream, rate, several=len(rates) > 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(codec.compress(image))
        data = path.read_bytes()  # decode what the file holds
        written.append(str(path))
        show(f"DiT-IC {args.model} rate {rate} (1 step)", data, codec.decompress(data))
    if args.baseline != "none":  # the same photo from a classical codec, in at most as many bytes
        baseline, budget = pillow_codec(args.baseline), len(data)  # the last (largest) rate point
        data, _ = baseline.at_bpp(image, bits_per_pixel(budget, image.height, image.width))
        fits = "same bytes or fewer" if len(data) <= budget else "its smallest file"
        show(f"{args.baseline} ({fits})", data, baseline.decode(data))
    title = f"{args.model} DiT-IC on {Path(args.input).name}" + (": every rate point" if len(rates) > 1 else "")
    box = zoom_box(image, min(128, image.width, image.height))
    side_by_side(images, titles, title, args.figure, crop=box, ncols=len(images))
    print("\n".join(lines))
    print(f"wrote {', '.join(written)} and {args.figure}")
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
    p.set_defaults(func=_cmd_decompress)

    p = sub.add_parser("info", help="print the header of a .ditic file")
    p.add_argument("input")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demo", help="code a photo at every rate point, write a side-by-side figure with zooms")
    p.add_argument("input", nargs="?", default=str(Path("data") / "samples" / "kite.png"))
    p.add_argument("--model", default="tiny", help=f"{' or '.join(names(TINY))} (default: %(default)s)")
    p.add_argument("--rate", type=int, default=None, help="one rate point (default: all shipped ones)")
    p.add_argument("--baseline", default="webp-ds", choices=[*(n for n in names(PILLOW) if n.endswith("-ds")), "none"],
                   help="classical codec shown in at most the bytes of the largest file (default: %(default)s)")
    p.add_argument("--bitstream", default=str(Path("figures") / "demo.ditic"),
                   help="file written (with several rate points: demo_rate<r>.ditic beside it)")
    p.add_argument("--figure", default=str(Path("figures") / "demo_side_by_side.png"))
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
