"""The paper's published numbers as DataFrames (``data/reference/*.csv``, each row with its source).

>>> reference.load("main_table")             # doctest: +SKIP
>>> reference.curve("kodak")                 # DiT-IC per-rate points on Kodak  # doctest: +SKIP

See ``data/reference/README.md`` for what each table holds and its caveats. Published numbers
are only ever drawn as "paper (published)" next to the kit's measurements, never merged with them.
Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

TABLES = {
    "results": "dit_ic_results.csv",
    "main_table": "main_table.csv",
    "claims": "claims.csv",
    "ablation": "ablation.csv",
}
DATASETS = {"kodak": "Kodak", "clic2020": "CLIC2020", "clic": "CLIC2020", "div2k": "DIV2K"}
PAPER_MODEL = "rank32/64 (paper)"
UPDATED_MODEL = "rank64/128 (release update)"

_ROOT = Path(__file__).resolve().parent
_SEARCH = (_ROOT / "reference_data", _ROOT.parent / "data" / "reference")  # installed / source tree


def reference_dir() -> Path:
    """Folder holding the reference CSVs (inside the package when installed, else ``data/reference``)."""
    for folder in _SEARCH:
        if (folder / TABLES["results"]).exists():
            return folder
    raise FileNotFoundError(f"reference data not found in {[str(p) for p in _SEARCH]}")


def load(name: str) -> pd.DataFrame:
    """One reference table by name: ``results``, ``main_table``, ``claims`` or ``ablation``."""
    if name not in TABLES:
        raise ValueError(f"unknown reference table {name!r}; choose from {sorted(TABLES)}")
    return pd.read_csv(reference_dir() / TABLES[name])


def dataset_name(name: str) -> str:
    """Normalise a data-set name (``kodak``, ``clic2020``, ``div2k``) to the tables' spelling."""
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in DATASETS:
        raise ValueError(f"no published curves for data set {name!r}; choose from Kodak, CLIC2020, DIV2K")
    return DATASETS[key]


def curve(dataset: str = "kodak", model: str = PAPER_MODEL) -> pd.DataFrame:
    """Published DiT-IC rate points of one model on one data set, sorted by bpp."""
    df = load("results")
    rows = df[(df["dataset"] == dataset_name(dataset)) & (df["model"] == model)]
    if rows.empty:
        raise ValueError(f"no rows for model {model!r}; models are {sorted(df['model'].unique())}")
    return rows.sort_values("bpp").reset_index(drop=True)
