"""A checkpoint file in the official release's format with deterministic weights (no real ones).

:func:`write_filled_checkpoint` builds the official architecture (``official.build()``), fills
every tensor with the reference fill of ``fixtures/official/fill.py``
(``official_helpers.fast_fill_``), recomputes the entropy tables and saves the merged state dict
with ``torch.save``, as the release's ``*_merge_ema.pt`` files are (a flat dict of float32
tensors; about 4.2 GB, about a minute on 2 cores). The notebook tests drive notebooks 02-07
through the official tier with it on a CPU (``tests/test_notebooks_official.py``).

    python tests/filled_checkpoint.py /tmp/q1_merge_ema.pt      # write one by hand
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from official_helpers import fast_fill_  # noqa: E402


def write_filled_checkpoint(path: str | Path) -> Path:
    """Write the filled official checkpoint to ``path`` (a ``.part`` file first, then renamed)."""
    from ditic_lite import official

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = official.build()
    fast_fill_(model)
    model.codec.update(force=True)
    part = path.with_name(path.name + ".part")
    torch.save(model.state_dict(), part)
    part.replace(path)
    return path


if __name__ == "__main__":
    tic = time.perf_counter()
    out = write_filled_checkpoint(sys.argv[1] if len(sys.argv) > 1 else "q1_merge_ema.pt")
    print(f"wrote {out} ({out.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - tic:.0f} s")
