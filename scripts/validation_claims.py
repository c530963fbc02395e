"""The verdicts of ``ditic-lite claims`` on the six held-out validation photos (issue 20's targets).

    python scripts/validation_claims.py [--data ../shared/data/train] [--out data/results/claims_validation.csv]

``ditic-lite claims`` checks the mechanisms on the three sample photos of ``data/samples``, which
are the first three validation photos; three images give wide intervals. This script runs the same
rules (:func:`ditic_lite.claims.collect`) on all six validation photos (``train_data.VALIDATION``),
resized and cropped to 768x512 like the samples, with their captions from the training collection.
It needs the training collection (``../shared``), so it is not part of the tests.
"""
from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

from ditic_lite.images import to_pil
from ditic_lite.train_config import DEFAULT_DATA
from ditic_lite.train_data import VALIDATION, load_validation_set, read_captions

ROOT = Path(__file__).resolve().parents[1]


def write_validation_samples(data: Path, folder: Path) -> list[str]:
    """The validation photos as ``folder/<name>.png`` plus ``captions.csv``, like ``data/samples``."""
    captions = dict(read_captions(data))
    names = []
    with open(folder / "captions.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "caption"])
        for rel, image in zip(VALIDATION, load_validation_set(data)):
            name = rel.replace("/", "-").removesuffix(".png") + ".png"
            to_pil(image).save(folder / name)
            writer.writerow([name, captions[rel]])
            names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the training collection")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "results" / "claims_validation.csv")
    parser.add_argument("--images", type=int, default=None, help="only the first N photos (a quick check)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        names = write_validation_samples(args.data, Path(tmp))
        os.environ["DITIC_SAMPLES"] = tmp  # sample_paths() and the captions now read this folder
        from ditic_lite.claims import collect
        verdicts = collect(images=args.images)
    verdicts.insert(0, "photos", " ".join(names[:args.images]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    verdicts.to_csv(args.out, index=False)
    for row in verdicts.itertuples():
        print(f"{row.notebook} | {row.claim[:70]:70s} | {row.measured[:48]:48s} | {row.verdict}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
