"""Notebooks 02-07 on the official tier, offline, on a CPU: the same cells through the released
model's code path, driven by a checkpoint file in the release's format with deterministic weights
(``filled_checkpoint.py``: ``official.build()`` and the reference fill, no real weights).

Each notebook runs in a fresh kernel with ``DITIC_TIER=official``,
``DITIC_OFFICIAL_CHECKPOINT=<the filled file>``, ``DITIC_FAST=1`` and the network guard of
``test_notebooks.py``; the test fails on an error, a network attempt, a missing figure, a
tiny-model fallback (anything that names ``tiny`` or ``mse`` as the model of a cell) or a run
over ``DITIC_OFFICIAL_NOTEBOOK_BUDGET_S`` (default 300 s).

    pytest tests/test_notebooks_official.py -s      # -s prints each notebook's time

Writing the filled checkpoint takes about a minute (4.2 GB in the pytest temporary folder);
``DITIC_TEST_OFFICIAL_CHECKPOINT=<file>`` reuses one written before (``python
tests/filled_checkpoint.py FILE``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from filled_checkpoint import write_filled_checkpoint
from test_notebooks import GALLERY, NOTEBOOKS, execute_checked, guarded_kernel_env

BUDGET_S = float(os.environ.get("DITIC_OFFICIAL_NOTEBOOK_BUDGET_S", "300"))
OFFICIAL_NOTEBOOKS = [p for p in NOTEBOOKS if p.stem[:2] in ("02", "03", "04", "05", "06", "07")]
# tables a notebook saves, and the column that names the model of each row
MODEL_COLUMNS = {"04_slider_positions.csv": "model", "04_quant_step_sweep.csv": "model", "05_results.csv": "codec",
                 "07_points_official.csv": "model", "07_timing_official.csv": "model"}


@pytest.fixture(scope="session")
def filled_checkpoint(tmp_path_factory) -> Path:
    given = os.environ.get("DITIC_TEST_OFFICIAL_CHECKPOINT")
    if given and Path(given).is_file():
        return Path(given)
    return write_filled_checkpoint(tmp_path_factory.mktemp("official") / "q1_merge_ema.pt")


@pytest.fixture(scope="module")
def official_env(tmp_path_factory, filled_checkpoint):
    out, env = guarded_kernel_env(tmp_path_factory, "guard_official", "official_outputs")
    env.update({"DITIC_TIER": "official", "DITIC_OFFICIAL_CHECKPOINT": str(filled_checkpoint),
                "DITIC_DATA": str(out / "datasets"), "HF_HUB_CACHE": str(out / "hub")})
    return out, env


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif "data" in o and "text/plain" in o["data"]:
                parts.append(o["data"]["text/plain"])
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("path", OFFICIAL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_official_tier(path, official_env, capsys):
    out, env = official_env
    nb, seconds = execute_checked(path, out, env, timeout=int(BUDGET_S) + 120, budget=BUDGET_S, capsys=capsys,
                                  label=" (official tier, CPU)")
    text = _text(nb)
    assert "tier: official (asked for (tier='official'), on the CPU" in text, text[:2000]
    assert "tier: tiny" not in text and "model 'tiny'" not in text, f"{path.name} fell back to the tiny model"
    assert "q1_merge_ema.pt" in text
    for name, column in MODEL_COLUMNS.items():
        if name.startswith(path.stem[:2]):
            table = pd.read_csv(Path(env["DITIC_RESULTS"]) / name)
            assert set(table[column]) - {"jpeg", "webp", "webp-ds"} == {"official"}, f"{name}: {set(table[column])}"
    for name in GALLERY[path.stem[:2]]:
        fig = Path(env["DITIC_FIGURES"]) / name
        assert fig.exists(), f"{path.name} did not save {name}"
    assert seconds < BUDGET_S, f"{path.name} took {seconds:.0f} s, over the {BUDGET_S:.0f} s budget"
