"""Decode latency and peak memory: the numbers behind "one step is fast".

Five parts, each a list of rows (``ditic-lite bench`` prints them and writes JSON):

* ``tiny``: the kit's DiT-IC tiny codec, end to end and per stage (entropy decoding, DiT,
  decoder; the stage times the codec reports);
* ``steps``: the same model decoding with 1 and with K steps (``codec.decompress(data, steps=K)``);
* ``official``: the official DiT-IC architecture (SANA-600M DiT + DC-AE f32c32 decoder) built
  from its configs with random weights -- latency and memory do not depend on weight values --
  one DiT step and the decoder, in fp32 / bf16 / fp16;
* ``unet``: a Stable-Diffusion-1.5-sized latent-diffusion U-Net (diffusers
  ``UNet2DConditionModel``, 8x downsampling, random weights), one denoising step at the same
  image size -- what a prior diffusion codec pays per step;
* ``startup``: what a user waits for at the command line, each a fresh process timed end to end
  (wall clock, median of ``repeats`` after ``warmup`` runs): ``python -c "import ditic_lite"``,
  ``ditic-lite info`` and ``ditic-lite decompress`` of a 768x512 file (imports, checkpoint load,
  decode and PNG write; memory not measured).

Timing (median of ``repeats`` calls after ``warmup`` calls) and peak memory are measured by
:func:`ditic_lite.measuring.measure`, which says how. Explained in notebook
``03_one_step_vs_multi_step`` and ``07_official_dit_ic``.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .checkpoints import write_card
from .measuring import Row, error_row, make_row, measure

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
NUM_TOKENS = 77  # latent-condition tokens the official prompter produces (SANA's caption length)

# Stable Diffusion 1.5 U-Net (about 860 M parameters); every other argument is diffusers' default
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
)
UNET_DOWNSAMPLE = 8  # VAE factor of Stable Diffusion
UNET_MULTIPLE = 64  # image sides rounded up so the latent survives the U-Net's 3 downsamplings
DCAE_MULTIPLE = 32  # DC-AE f32


def synthetic_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A deterministic photo-like test image (smooth gradients, waves, mild noise), HxWx3 uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (f * x + g * y) + p)
                     for f, g, p in rng.uniform(0.5, 6, size=(3, 3))], axis=-1)
    img = base + rng.normal(0, 0.03, base.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _cast(module: torch.nn.Module, device: str, dtype: torch.dtype) -> None:
    """``module.to(device, dtype)`` without diffusers' warning about casting pretrained models."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        module.to(device=device, dtype=dtype)
    finally:
        diffusers_logging.set_verbosity(level)


def _params_m(*modules: torch.nn.Module) -> float:
    return sum(p.numel() for m in modules for p in m.parameters()) / 1e6


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# ---------------------------------------------------------------------------------------------
# (a) + (b): the tiny codec
# ---------------------------------------------------------------------------------------------

def bench_tiny(sizes: Sequence[tuple[int, int]], steps: int = 20, step_sizes: Sequence[tuple[int, int]] | None = None,
               device: str = "cpu", repeats: int = 5, warmup: int = 1, name: str = "tiny", rate: int = 0,
               codec: Any = None) -> list[Row]:
    """Loading, encoding, end-to-end and per-stage decoding of the tiny codec, then 1 vs ``steps``
    steps at ``step_sizes`` (default: the first size). ``codec`` overrides
    ``ditic_lite.load(name, rate)`` (tests; no ``load`` row then)."""
    rows: list[Row] = []
    if codec is None:
        from .zoo import load
        m = measure(lambda: load(name, rate=rate, device=device), device, repeats, warmup)
        codec = m["result"]
        rows.append(make_row("tiny", name, "load", "-", m, device=device, note="ditic_lite.load incl. hash checks"))
    params = _params_m(codec.model) if hasattr(codec, "model") else float("nan")
    note = "codec runs with 1 CPU thread (bit-exact entropy coding)" if device == "cpu" else ""
    for size in sizes:
        image = synthetic_image(*size)
        m = measure(lambda: codec.compress(image), device, repeats, warmup)
        data = m["result"]
        rows.append(make_row("tiny", name, "encode", size, m, device=device, params_m=params, note=note))
        try:
            m = measure(lambda: codec.decompress(data, steps=1, return_intermediates=True), device, repeats, warmup)
        except Exception as err:  # noqa: BLE001 (reported in the table)
            rows.append(error_row("tiny", name, "total", size, err, device=device))
            continue
        rows.append(make_row("tiny", name, "total", size, m, device=device, params_m=params, note=note))
        # the stage times of the timed calls are not kept by measure(); take them from fresh calls
        stage_times: dict[str, list[float]] = {}
        for _ in range(max(1, min(repeats, 3))):
            for stage, s in codec.decompress(data, steps=1, return_intermediates=True)[1]["timings"].items():
                stage_times.setdefault(stage, []).append(s)
        for stage, ts in stage_times.items():
            r = make_row("tiny", name, stage, size, device=device, note="stage time reported by the codec")
            r.median_s, r.min_s, r.times_s, r.repeats = statistics.median(ts), min(ts), ts, len(ts)
            rows.append(r)
    for size in (step_sizes if step_sizes is not None else sizes[:1]):
        data = codec.compress(synthetic_image(*size))
        for k in (1, steps):
            try:
                m = measure(lambda: codec.decompress(data, steps=k), device, repeats, warmup)
                rows.append(make_row("steps", name, "total", size, m, device=device, steps=k, params_m=params))
            except Exception as err:  # noqa: BLE001
                rows.append(error_row("steps", name, "total", size, err, device=device, steps=k))
    return rows


# ---------------------------------------------------------------------------------------------
# (c): the official DiT-IC architecture, random weights
# ---------------------------------------------------------------------------------------------

def build_official(vae_config: dict | None = None, dit_config: dict | None = None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """DC-AE decoder and SANA DiT from the official configs (or given ones), randomly initialised."""
    from diffusers import AutoencoderDC, SanaTransformer2DModel

    from .official import CONFIG_DIR

    vae_config = vae_config or AutoencoderDC.load_config(CONFIG_DIR, subfolder="vae")
    dit_config = dit_config or SanaTransformer2DModel.load_config(CONFIG_DIR, subfolder="transformer")
    vae = AutoencoderDC.from_config(vae_config)
    vae.encoder = None  # decoding only
    dit = SanaTransformer2DModel.from_config(dit_config)
    return vae.eval(), dit.eval()


def bench_official(sizes: Sequence[tuple[int, int]], dtypes: Sequence[str] = ("fp32",), device: str = "cpu",
                   repeats: int = 5, warmup: int = 1, tiling: str = "auto", vae_config: dict | None = None,
                   dit_config: dict | None = None, num_tokens: int = NUM_TOKENS) -> list[Row]:
    """One DiT step and the DC-AE decoder of the official architecture per size and dtype.

    ``tiling``: ``"auto"`` tiles the decoder above 2048x2048 pixels, ``"on"`` / ``"off"`` force it.
    Entropy decoding and the prompter are not included (small next to these two).
    """
    vae, dit = build_official(vae_config, dit_config)
    params = {"dit": _params_m(dit), "decoder": _params_m(vae)}
    rows: list[Row] = []
    for dtype_name in dtypes:
        dtype = DTYPES[dtype_name]
        _cast(vae, device, dtype)
        _cast(dit, device, dtype)
        for size in sizes:
            w, h = (_round_up(s, DCAE_MULTIPLE) for s in size)
            tiled = tiling == "on" or (tiling == "auto" and w * h > 2048 * 2048)
            vae.enable_tiling() if tiled else vae.disable_tiling()
            gen = torch.Generator().manual_seed(0)
            latent = torch.randn(1, dit.config.in_channels, h // 32, w // 32, generator=gen).to(device, dtype)
            tokens = torch.randn(1, num_tokens, dit.config.caption_channels, generator=gen).to(device, dtype)
            timestep = torch.tensor([999.0], device=device)
            kw = dict(dtype=dtype_name, device=device)
            stages = {
                "dit": lambda: dit(latent, tokens, timestep).sample,
                "decoder": lambda: vae.decode(latent).sample,
            }
            medians = {}
            for stage, fn in stages.items():
                note = "tiled decoder" if stage == "decoder" and tiled else ""
                try:
                    with torch.inference_mode():
                        m = measure(fn, device, repeats, warmup)
                    rows.append(make_row("official", "DiT-IC official", stage, size, m, params_m=params[stage],
                                     note=note, **kw))
                    medians[stage] = m["median_s"]
                except Exception as err:  # noqa: BLE001
                    rows.append(error_row("official", "DiT-IC official", stage, size, err, **kw))
            if len(medians) == 2:
                r = make_row("official", "DiT-IC official", "total", size, params_m=sum(params.values()),
                         note="sum of the stage medians (1 step)", **kw)
                r.median_s = sum(medians.values())
                rows.append(r)
    del vae, dit
    return rows


# ---------------------------------------------------------------------------------------------
# (d): a Stable-Diffusion-sized U-Net step
# ---------------------------------------------------------------------------------------------

def bench_unet(sizes: Sequence[tuple[int, int]], dtypes: Sequence[str] = ("fp32",), device: str = "cpu",
               repeats: int = 5, warmup: int = 1, config: dict | None = None, num_tokens: int = 77) -> list[Row]:
    """One denoising step of an SD-1.5-sized ``UNet2DConditionModel`` at each image size and dtype."""
    from diffusers import UNet2DConditionModel

    config = dict(config or SD15_UNET)
    unet = UNet2DConditionModel(**config).eval()
    params = _params_m(unet)
    rows: list[Row] = []
    for dtype_name in dtypes:
        dtype = DTYPES[dtype_name]
        _cast(unet, device, dtype)
        for size in sizes:
            w, h = (_round_up(s, UNET_MULTIPLE) for s in size)
            gen = torch.Generator().manual_seed(0)
            latent = torch.randn(1, config["in_channels"], h // UNET_DOWNSAMPLE, w // UNET_DOWNSAMPLE,
                                 generator=gen).to(device, dtype)
            text = torch.randn(1, num_tokens, config["cross_attention_dim"], generator=gen).to(device, dtype)
            timestep = torch.tensor([500], device=device)
            try:
                with torch.inference_mode():
                    m = measure(lambda: unet(latent, timestep, text).sample, device, repeats, warmup)
                rows.append(make_row("unet", "SD-1.5 U-Net (f8)", "step", size, m, dtype=dtype_name, device=device,
                                 params_m=params))
            except Exception as err:  # noqa: BLE001
                rows.append(error_row("unet", "SD-1.5 U-Net (f8)", "step", size, err, dtype=dtype_name, device=device))
    del unet
    return rows


# ---------------------------------------------------------------------------------------------
# (e): start-up of fresh processes
# ---------------------------------------------------------------------------------------------

STARTUP_STAGES = ("import", "info", "decompress", "torch", "compressai", "diffusers")
# The floor under a fresh decompress: what importing each library the decode needs costs by itself
# (compressai's __init__ imports its point-cloud datasets, hence torch_geometric; diffusers' model
# packages import every model family and, where installed, peft).
LIBRARY_IMPORTS = {"torch": "import torch", "compressai": "import compressai",
                   "diffusers": "from diffusers import AutoencoderDC, SanaTransformer2DModel"}


def bench_startup(stages: Sequence[str] = STARTUP_STAGES, size: tuple[int, int] = (768, 512), repeats: int = 3,
                  warmup: int = 1, name: str = "tiny", rate: int = 0) -> list[Row]:
    """Wall time of fresh Python processes, each run to its exit (median of ``repeats`` after
    ``warmup`` untimed runs, which fill the file cache): ``import ditic_lite``, ``ditic-lite info``
    and ``ditic-lite decompress`` of a ``size`` image coded by ``name`` at ``rate``; and the import
    of each library the decode needs (:data:`LIBRARY_IMPORTS`), the floor under ``decompress``."""
    unknown = set(stages) - set(STARTUP_STAGES)
    if unknown:
        raise ValueError(f"unknown start-up stage(s) {sorted(unknown)}; choose from {', '.join(STARTUP_STAGES)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bits = Path(tmp) / "startup.ditic"
        if {"info", "decompress"} & set(stages):
            from .zoo import load
            bits.write_bytes(load(name, rate=rate).compress(synthetic_image(*size)))
        cli = [sys.executable, "-m", "ditic_lite.cli"]
        commands = {"import": ([sys.executable, "-c", "import ditic_lite"], "-", "python -c 'import ditic_lite'"),
                    "info": ([*cli, "info", str(bits)], size, f"ditic-lite info ({name} rate {rate})"),
                    "decompress": ([*cli, "decompress", str(bits), str(Path(tmp) / "out.png")], size,
                                   f"ditic-lite decompress ({name} rate {rate}), PNG written")}
        for library, statement in LIBRARY_IMPORTS.items():
            commands[library] = ([sys.executable, "-c", statement], "-", f"python -c '{statement}' (library floor)")
        for stage in stages:
            command, where, note = commands[stage]
            try:
                m = measure(lambda: _run_to_exit(command), "cpu", repeats, warmup)
            except RuntimeError as err:
                rows.append(error_row("startup", "ditic-lite", stage, where, err))
                continue
            m["peak_mem_mb"] = m["extra_mem_mb"] = float("nan")  # measure() sees this process, not the child
            rows.append(make_row("startup", "ditic-lite", stage, where, m, note=f"fresh process: {note}"))
    return rows


def _run_to_exit(command: list[str]) -> None:
    """Run ``command``; a non-zero exit raises ``RuntimeError`` with the last line it printed."""
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exit status {proc.returncode}: {last}")


# ---------------------------------------------------------------------------------------------
# summary, table, command line
# ---------------------------------------------------------------------------------------------

def ratios(rows: Sequence[Row], unet_steps: int = 20) -> list[dict[str, Any]]:
    """Headline ratios: K-step vs 1-step tiny decode; U-Net step vs official DiT step and vs the
    official one-step decode (DiT + decoder); ``unet_steps`` U-Net steps (PerCo uses 20; the SD
    VAE decoder not counted) vs that one-step decode -- at equal size, dtype and device."""
    out = []
    steps = {(r.size, r.steps): r.median_s for r in rows if r.part == "steps" and not r.note}
    for (size, k), t in steps.items():
        if k > 1 and (size, 1) in steps:
            out.append({"what": f"tiny decode, {k} steps / 1 step", "size": size, "ratio": t / steps[(size, 1)],
                        "numerator_s": t, "denominator_s": steps[(size, 1)]})
    official = {(r.size, r.dtype, r.device, r.stage): r.median_s for r in rows if r.part == "official"}
    for r in rows:
        if r.part != "unet" or r.note:
            continue
        for stage, k, label in (("dit", 1, "official DiT step"),
                                ("total", 1, "official one-step decode (DiT + decoder)"),
                                ("total", unet_steps, "official one-step decode (DiT + decoder)")):
            t = official.get((r.size, r.dtype, r.device, stage))
            if t and np.isfinite(t):
                what = "SD-1.5 U-Net step" if k == 1 else f"SD-1.5 U-Net x {k} steps"
                out.append({"what": f"{what} / {label}", "size": r.size, "dtype": r.dtype,
                            "ratio": k * r.median_s / t, "numerator_s": k * r.median_s, "denominator_s": t})
    return out


def format_table(rows: Sequence[Row], summary: Sequence[dict[str, Any]] = ()) -> str:
    """The rows as a fixed-width text table, followed by the ratios."""
    head = f"{'part':<9}{'model':<20}{'stage':<11}{'size':<11}{'dtype':<6}{'steps':>5}{'median ms':>12}" \
           f"{'min ms':>10}{'peak MB':>10}{'extra MB':>10}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        ms = f"{r.median_s * 1e3:.1f}" if np.isfinite(r.median_s) else "-"
        mn = f"{r.min_s * 1e3:.1f}" if np.isfinite(r.min_s) else "-"
        pk = f"{r.peak_mem_mb:.0f}" if np.isfinite(r.peak_mem_mb) else "-"
        ex = f"{r.extra_mem_mb:.0f}" if np.isfinite(r.extra_mem_mb) else "-"
        lines.append(f"{r.part:<9}{r.model[:19]:<20}{r.stage:<11}{r.size:<11}{r.dtype:<6}{r.steps:>5}{ms:>12}"
                     f"{mn:>10}{pk:>10}{ex:>10}  {r.note}")
    for s in summary:
        lines.append(f"{s['what']} at {s['size']}{' ' + s['dtype'] if 'dtype' in s else ''}: "
                     f"{s['ratio']:.2f}x ({s['numerator_s'] * 1e3:.1f} ms / {s['denominator_s'] * 1e3:.1f} ms)")
    return "\n".join(lines)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"256,768x512"`` -> ``[(256, 256), (768, 512)]`` (width x height)."""
    sizes = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        parts = token.lower().split("x")
        if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"bad size {token!r}; use N or WxH, e.g. 256,768x512")
        w, h = int(parts[0]), int(parts[-1])
        sizes.append((w, h))
    return sizes


DEFAULT_SIZES = {  # (tiny, official, unet) per device type
    "cpu": ("256,512,768x512", "256", "256"),
    "cuda": ("1024,2048,4096", "1024,2048,4096", "1024,2048,4096"),
}


def run(device: str = "cpu", parts: Sequence[str] = ("tiny", "steps", "official", "unet", "startup"),
        sizes: Sequence[tuple[int, int]] | None = None, dtypes: Sequence[str] = ("fp32",), steps: int = 20,
        repeats: int = 5, warmup: int = 1, tiling: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Run the chosen parts; returns ``{"meta", "rows", "ratios"}`` (rows as dicts)."""
    unknown = set(parts) - {"tiny", "steps", "official", "unet", "startup"}
    if unknown:
        raise ValueError(f"unknown bench part(s) {sorted(unknown)}; choose from tiny, steps, official, unet, startup")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        raise ValueError(f"unknown dtype(s) {bad}; choose from {sorted(DTYPES)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda but no CUDA device is available")
    if repeats < 1 or warmup < 0 or steps < 1:
        raise ValueError("need repeats >= 1, warmup >= 0, steps >= 1")
    defaults = [parse_sizes(s) for s in DEFAULT_SIZES["cuda" if device.startswith("cuda") else "cpu"]]
    tiny_sizes, official_sizes, unet_sizes = ([list(sizes)] * 3) if sizes else defaults
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    rows: list[Row] = []
    common = dict(device=device, repeats=repeats, warmup=warmup)
    if "tiny" in parts or "steps" in parts:
        log(f"bench: tiny codec at {tiny_sizes} (1 vs {steps} steps)")
        try:
            tiny_rows = bench_tiny(tiny_sizes if "tiny" in parts else [], steps,
                                   step_sizes=tiny_sizes[:1] if "steps" in parts else [], **common)
            rows += tiny_rows
        except Exception as err:  # noqa: BLE001 (e.g. no checkpoint shipped yet)
            rows.append(error_row("tiny", "tiny", "total", tiny_sizes[0], err, device=device))
    if "official" in parts:
        log(f"bench: official DiT-IC (random weights) at {official_sizes}, {list(dtypes)}")
        rows += bench_official(official_sizes, dtypes, tiling=tiling, **common)
    if "unet" in parts:
        log(f"bench: SD-1.5 U-Net step at {unet_sizes}, {list(dtypes)}")
        rows += bench_unet(unet_sizes, dtypes, **common)
    if "startup" in parts:
        log("bench: start-up of fresh processes (import, info, CLI decompress of 768x512)")
        rows += bench_startup(repeats=repeats, warmup=warmup)
    meta = {
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu",
        "threads": torch.get_num_threads(), "repeats": repeats, "warmup": warmup, "statistic": "median",
        "memory": "torch.cuda.max_memory_allocated" if device.startswith("cuda") else
        "process peak RSS during the timed calls (VmHWM reset via /proc/self/clear_refs)",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return {"meta": meta, "rows": [asdict(r) for r in rows], "ratios": ratios(rows, unet_steps=steps)}


def _run_bench(args: argparse.Namespace) -> int:
    result = run(
        device=args.device, parts=[p.strip() for p in args.parts.split(",") if p.strip()],
        sizes=parse_sizes(args.sizes) if args.sizes else None,
        dtypes=[d.strip() for d in args.dtype.split(",") if d.strip()], steps=args.steps,
        repeats=args.repeats, warmup=args.warmup, tiling=args.tiling,
    )
    rows = [Row(**r) for r in result["rows"]]
    print(format_table(rows, result["ratios"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_card(out, result)
    print(f"wrote {out}")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``bench`` on the ``ditic-lite`` command."""
    p = subparsers.add_parser(
        "bench", help="decode latency and peak memory (tiny, 1 vs K steps, official, SD U-Net), start-up times",
        description="Median decode latency after warm-up and peak memory, and the wall time of fresh "
                    "processes (import, info, CLI decompress); prints a table, writes JSON.")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--sizes", default=None,
                   help="image sizes N or WxH, comma list, for every part (default: small on CPU: tiny "
                        "256,512,768x512, official and U-Net 256; on CUDA 1024,2048,4096)")
    p.add_argument("--dtype", default="fp32", help="fp32, bf16, fp16 (comma list) for official and U-Net")
    p.add_argument("--parts", default="tiny,steps,official,unet,startup",
                   help="subset of tiny,steps,official,unet,startup")
    p.add_argument("--steps", type=int, default=20, help="K of the 1-vs-K-steps comparison (default: 20)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (default: 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls first (default: 1)")
    p.add_argument("--tiling", choices=("auto", "on", "off"), default="auto",
                   help="tiled DC-AE decoding (auto: above 2048x2048)")
    p.add_argument("--out", default="results/bench.json", help="JSON to write (default: %(default)s)")
    p.set_defaults(func=_run_bench)
