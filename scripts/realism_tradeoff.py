"""Measure the realism decoder's perception-distortion trade-off on the held-out photos.

    python scripts/realism_tradeoff.py --data runs/data --run "energy 0.01=runs_f1" --run "energy 0.03=runs_f2" \
        --out data/results/realism_tradeoff.csv

Each ``--run LABEL=RUNS`` is a runs folder whose ``realism`` stage trained a head (its settings
are read from the run's record). Every head decodes the same files as the fidelity decoder (rate
points 0 and 3). Writes one row per photo, rate point and decoder, prints the medians, and (``--card``) records
the medians in the shipped realism decoder's card, where notebook 08 reads them.

``--unsharp AMOUNT`` (repeat) also measures an unsharp mask on the fidelity image
(``realism.sharpen_detail``: no training, no texture drawn, a yardstick for the measures), and
``--append`` adds what it measured to the table in ``--out`` instead of replacing it:

    python scripts/realism_tradeoff.py --data runs/data --unsharp 2 --unsharp 4 --unsharp 8 --append

``--table CSV`` measures nothing: it reads a table written before (the committed one holds every
head tried, also heads whose runs are gone), and ``--keep TEXT`` (repeat) puts only the decoders
whose label contains one of the texts in the card (the fidelity decoder always):

    python scripts/realism_tradeoff.py --table data/results/realism_tradeoff.csv \
        --card ditic_lite/checkpoints/tiny/realism.json --keep "v2 head" --keep shipped --keep "1.5" --keep "follows"
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ditic_lite.training.stages.realism import tradeoff_table  # noqa: E402
from ditic_lite.checkpoints import write_card  # noqa: E402
from ditic_lite.evaluate import tradeoff_summary  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("runs/data"), help="folder with the held-out photos")
    p.add_argument("--run", action="append", default=[], help="LABEL=RUNS (repeat)")
    p.add_argument("--table", type=Path, help="read this per-photo table instead of measuring")
    p.add_argument("--keep", action="append", default=[], help="with --card: only decoders whose label has this text")
    p.add_argument("--rates", default="0,3")
    p.add_argument("--out", type=Path, default=ROOT / "data" / "results" / "realism_tradeoff.csv")
    p.add_argument("--card", type=Path, help="the realism card (JSON) to record the medians in")
    p.add_argument("--unsharp", action="append", type=float, default=[],
                   help="also measure realism.sharpen_detail at this amount on the fidelity image (repeat)")
    p.add_argument("--append", action="store_true",
                   help="add the measured decoders to the table in --out (replacing rows of the same name)")
    a = p.parse_args()
    if a.table:
        table = pd.read_csv(a.table)
    elif a.run or a.unsharp:
        runs = {label: Path(d) for label, d in (r.split("=", 1) for r in a.run)}
        table = tradeoff_table(runs, a.data, rates=[int(r) for r in a.rates.split(",")], unsharp=a.unsharp)
        if a.append and a.out.exists():
            before = pd.read_csv(a.out)
            added = table[table["decoder"] != "fidelity"]
            table = pd.concat([before[~before["decoder"].isin(added["decoder"])], added], ignore_index=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(a.out, index=False)
    else:
        p.error("give --run LABEL=RUNS or --unsharp AMOUNT (measure) or --table CSV (read)")
    if a.keep:
        table = table[(table["decoder"] == "fidelity") | table["decoder"].apply(lambda d: any(k in d for k in a.keep))]
    summary = tradeoff_summary(table)
    print(summary.round(4).to_string(index=False))
    if a.card:
        card = json.loads(a.card.read_text())
        card["tradeoff"] = summary.to_dict(orient="records")
        card["tradeoff_note"] = (f"medians over {table['image'].nunique()} held-out photos, the same files for every "
                                 f"decoder; per photo in data/results/{(a.table or a.out).name}")
        write_card(a.card, card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
