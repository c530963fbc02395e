"""Prepare ``.gpu/`` for ``scripts/train_gpu.sh`` on a machine with no network (the device tool).

The device machine has PyTorch, accelerate, peft and pandas but not diffusers, compressai,
pytorch-msssim or the caption model, and only 64 MiB travel with the working tree (the repo
itself is ~46 MB). So this writes, into the git-ignored ``.gpu/``:

- ``wheels/``: the missing pure or cp312 wheels (downloaded from PyPI here, ``--no-deps``);
- ``data/``: the training photos with their long side cut to ``--max-side`` as JPEG (quality 92),
  the held-out photos as the exact 768x512 crops the cards are measured on (PNG), captions.csv,
  and ``captions.safetensors``, the caption embeddings computed here (all-MiniLM-L6-v2).

    python scripts/gpu_bundle.py [--data ../shared/data/train]
then: device run with carry [".gpu"]: bash scripts/train_gpu.sh $OUT
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditic_lite.images import load_image, to_pil  # noqa: E402
from ditic_lite.training.data import VALIDATION, caption_embeddings, load_validation_set, read_captions  # noqa: E402

WHEELS = ["diffusers==0.42.1", "compressai==1.2.8", "pytorch-msssim==1.0.0", "importlib_metadata"]
PLATFORMS = ["manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"]


def download_wheels(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    for spec in WHEELS:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platform_args,
                        "-d", str(folder), spec], check=True)


def compact_data(data: Path, out: Path, max_side: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows, train_captions = [], []
    for rel, caption in read_captions(data):
        if rel in VALIDATION:
            continue
        image = load_image(data / rel)
        scale = min(1.0, max_side / max(image.size))
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), resample=3)
        new_rel = str(Path(rel).with_suffix(".jpg"))
        (out / new_rel).parent.mkdir(parents=True, exist_ok=True)
        image.save(out / new_rel, quality=92)
        rows.append((new_rel, caption))
        train_captions.append(caption)
    captions = dict(read_captions(data))
    for rel, crop in zip(VALIDATION, load_validation_set(data)):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        to_pil(crop).save(out / rel)
        rows.append((rel, captions[rel]))
    with open(out / "captions.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "caption"])
        writer.writerows(rows)
    caption_embeddings(train_captions, out / "captions.safetensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    merged = ROOT / "runs" / "data"  # scripts/fetch_training_photos.py: the shared photos and more
    parser.add_argument("--data", type=Path, default=merged if merged.exists() else ROOT.parent / "shared" / "data" / "train")
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu")
    parser.add_argument("--max-side", type=int, default=768)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    download_wheels(args.out / "wheels")
    compact_data(args.data, args.out / "data", args.max_side)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
