"""Timing and peak memory of one call, and the row every benchmark table is made of.

Timing: median of ``repeats`` calls after ``warmup`` calls (CUDA synchronised). Memory, from
the first warm-up call on: on CUDA the peak of ``torch.cuda.max_memory_allocated`` (weights +
activations); on CPU the process's peak resident set size (Linux ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``; elsewhere the process-lifetime ``ru_maxrss``, an upper bound).
Both are reported in total and as the increase over the memory in use before the first call.
On CPU the total includes the Python/torch runtime, and memory the allocator kept from earlier
measurements can hide part of the increase: read ``extra_mem_mb`` as a lower bound there. Used
by ``bench.py`` (``ditic-lite bench``) and notebook ``07_official_dit_ic``.
"""
from __future__ import annotations

import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak_rss() -> bool:
    """Reset Linux's peak RSS (VmHWM) to the current RSS; False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(reset_worked: bool) -> float:
    if reset_worked:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def measure(fn: Callable[[], Any], device: str = "cpu", repeats: int = 5, warmup: int = 1) -> dict[str, Any]:
    """Call ``fn`` ``warmup`` times, then ``repeats`` timed times -> median/min seconds and peak memory.

    Returns ``median_s``, ``min_s``, ``times_s``, ``peak_mem_mb`` (total, from the first warm-up
    call on), ``extra_mem_mb`` (that peak minus the memory in use before the first call: the
    decode's working memory) and the last result.
    """
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    else:
        before = _rss_mb()
        reset = _reset_peak_rss()
    for _ in range(warmup):
        fn()
    sync()
    times, result = [], None
    for _ in range(repeats):
        tic = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - tic)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_rss_mb(reset)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
            "peak_mem_mb": peak, "extra_mem_mb": max(peak - before, 0.0), "result": result}


@dataclass
class Row:
    """One benchmark measurement (a row of the printed table and of the JSON)."""

    part: str  # tiny | steps | official | unet | startup
    model: str
    stage: str  # load | encode | total | entropy | dit | decoder | step | import | info | decompress
    size: str  # WxH of the image
    dtype: str = "fp32"
    device: str = "cpu"
    steps: int = 1
    median_s: float = float("nan")
    min_s: float = float("nan")
    repeats: int = 0
    peak_mem_mb: float = float("nan")
    extra_mem_mb: float = float("nan")
    params_m: float = float("nan")
    note: str = ""
    times_s: list[float] = field(default_factory=list)


def make_row(part: str, model: str, stage: str, size: tuple[int, int] | str, m: dict[str, Any] | None = None,
             **kw: Any) -> Row:
    """A row for ``size`` (``(W, H)`` or text), with the statistics of :func:`measure`'s ``m`` if given."""
    row = Row(part, model, stage, size if isinstance(size, str) else f"{size[0]}x{size[1]}", **kw)
    if m is not None:
        row.median_s, row.min_s, row.times_s = m["median_s"], m["min_s"], m["times_s"]
        row.repeats, row.peak_mem_mb, row.extra_mem_mb = len(m["times_s"]), m["peak_mem_mb"], m["extra_mem_mb"]
    return row


def error_row(part: str, model: str, stage: str, size: tuple[int, int] | str, err: BaseException, **kw: Any) -> Row:
    """A row without numbers whose note says what failed ("out of memory" or the error's first line)."""
    msg = "out of memory" if "out of memory" in str(err).lower() else f"{type(err).__name__}: {err}"
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return make_row(part, model, stage, size, note=msg.splitlines()[0][:200], **kw)
