"""Shared fixtures: tiny random models, sample images, miniature training folders."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.png"))


@pytest.fixture(scope="session")
def tiny_model():
    """A randomly initialised tiny DiT-IC with LoRA, entropy tables updated, eval mode."""
    from ditic_lite.config import tiny_config
    from ditic_lite.model import DiTIC

    torch.manual_seed(0)
    model = DiTIC(tiny_config())
    model.add_lora()
    model.codec.update(force=True)
    return model.eval()


@pytest.fixture(scope="session")
def random_codec(tiny_model):
    """A Codec around the random tiny model (behaviour tests that must not depend on training)."""
    from ditic_lite.codec import Codec

    return Codec(model=tiny_model, name="tiny", rate=0, rates=[0], checkpoint_id=b"testtest")


@pytest.fixture(scope="session")
def train_folder(tmp_path_factory) -> Path:
    """A miniature training set: the sample photos twice over, with captions.csv."""
    folder = tmp_path_factory.mktemp("train")
    rows = ["file,caption"]
    captions = {"balloons": "Colourful hot air balloons float in a blue sky.",
                "kite": "A rainbow-coloured kite flies in a deep blue sky.",
                "ladybird": "A ladybird climbs a grass stem among small blue flowers."}
    for copy in range(2):
        for p in sorted(SAMPLES.glob("*.png")):
            name = f"{p.stem}_{copy}.png"
            shutil.copy(p, folder / name)
            rows.append(f"{name},{captions[p.stem]}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="session")
def held_out_collection(tmp_path_factory) -> Path:
    """A training collection of only the six held-out photos (``training.data.VALIDATION``):
    small copies of the sample photos under those names, with captions.csv."""
    from ditic_lite.training.data import VALIDATION

    folder = tmp_path_factory.mktemp("held_out")
    samples = sorted(SAMPLES.glob("*.png"))
    rows = ["file,caption"]
    for index, rel in enumerate(VALIDATION):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.open(samples[index % len(samples)]).resize((192, 128)).save(folder / rel)
        rows.append(f"{rel},held-out photo {index}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    return folder
