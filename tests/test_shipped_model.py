"""Guards on the shipped tiny checkpoints: worse, swapped or mismatched weights fail here.

Per rate point, the file a sample photo compresses to (its bytes) and the PSNR of its
reconstruction are pinned in ``fixtures/shipped_pins.json``; every model card's validation numbers
must equal ``data/results/validation.csv``. After retraining, refresh both with
``python scripts/evaluate_shipped.py`` and ``python tests/test_shipped_model.py --write-pins``.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

import ditic_lite as dl
from ditic_lite.images import load_image
from ditic_lite.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
PINS = Path(__file__).parent / "fixtures" / "shipped_pins.json"
SAMPLE = ROOT / "data" / "samples" / "kite.png"
MODELS = [(name, rate) for name in ("tiny", "mse") for rate in dl.zoo.available_rates(name)]


def measure(name: str, rate: int) -> dict[str, object]:
    """Compress the sample photo with a shipped rate point: file size, SHA-256, PSNR of the decode."""
    codec = dl.load(name, rate=rate)
    data = codec.compress(SAMPLE)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "psnr": round(psnr(load_image(SAMPLE), codec.decompress(data)), 4)}


@pytest.mark.parametrize("name,rate", MODELS)
def test_sample_photo_file_and_psnr_are_pinned(name, rate):
    pin = json.loads(PINS.read_text())[f"{name}/rate{rate}"]
    got = measure(name, rate)
    assert (got["bytes"], got["sha256"]) == (pin["bytes"], pin["sha256"]), "the shipped weights changed"
    assert got["psnr"] == pytest.approx(pin["psnr"], abs=0.05)


def test_every_rate_point_is_pinned():
    assert set(json.loads(PINS.read_text())) == {f"{n}/rate{r}" for n, r in MODELS}


def test_model_cards_equal_the_validation_table():
    table = pd.read_csv(ROOT / "data" / "results" / "validation.csv")
    means = table.groupby(["codec", "rate"])[["bpp", "psnr", "ms_ssim"]].mean()
    for name, rate in MODELS:
        card = json.loads((dl.zoo.CHECKPOINT_DIR / name / f"rate{rate}.json").read_text())["validation"]
        for metric in ("bpp", "psnr", "ms_ssim"):
            assert card[metric] == pytest.approx(means.loc[(name, rate), metric], rel=1e-9), (name, rate, metric)


if __name__ == "__main__" and "--write-pins" in sys.argv:
    PINS.write_text(json.dumps({f"{n}/rate{r}": measure(n, r) for n, r in MODELS}, indent=1) + "\n")
    print(f"wrote {PINS}")


def test_every_shipped_card_is_strict_json():
    """No NaN or Infinity in a card (``checkpoints.write_card`` writes null): any JSON parser reads them."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    cards = sorted(dl.zoo.CHECKPOINT_DIR.rglob("*.json"))
    assert cards
    for path in cards:
        json.loads(path.read_text(), parse_constant=refuse)
