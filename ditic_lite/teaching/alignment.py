"""Notebook ``06_alignment_mechanisms``: self-distillation and latent-conditioned guidance,
measured on the decoded latents and tokens.

:func:`sample_captions`, :func:`caption_embeddings` (also notebook 03), :func:`encoder_latent`,
:func:`trained_margin`, :func:`distillation_table`, :func:`retrieval_table`, :func:`decode_with_tokens`,
:func:`condition_ablation`, :func:`swap_condition`, :func:`captioned`, :func:`alignment_ablation`,
:func:`ablation_report`.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from .. import align
from .. import metrics as M
from ..codec import Codec
from ..determinism import deterministic_threads
from ..images import ImageLike, pad_to_multiple, to_pil, to_tensor
from ..notebook import samples_dir
from .common import as_pil


def sample_captions() -> pd.DataFrame:
    """``data/samples/captions.csv`` (``file``, ``caption``) of the sample photos.
    Explained in notebook ``06_alignment_mechanisms``."""
    path = samples_dir() / "captions.csv"
    with open(path, newline="") as f:
        return pd.DataFrame(list(csv.DictReader(f)))


def caption_embeddings(captions: Sequence[str], cache: str | Path | None = "samples") -> torch.Tensor:
    """all-MiniLM-L6-v2 embeddings [N, 384] of ``captions`` (offline), from a cache file when its
    captions match (``"samples"``: the shipped ``data/samples/caption_embeddings.safetensors``).
    Explained in notebook ``06_alignment_mechanisms``."""
    from safetensors.torch import load_file, save_file

    path = samples_dir() / "caption_embeddings.safetensors" if cache == "samples" else (Path(cache) if cache else None)
    digest = hashlib.sha256("\n".join(captions).encode()).hexdigest()
    if path is not None and path.exists():
        from safetensors import safe_open
        with safe_open(str(path), "pt") as f:
            if (f.metadata() or {}).get("captions_sha256") == digest:
                return load_file(str(path))["emb"]
    from ..training.data import caption_embeddings as embed
    emb = embed(list(captions))
    if path is not None and cache != "samples":  # the shipped file is data, never rewritten
        save_file({"emb": emb.contiguous()}, str(path), metadata={"captions_sha256": digest, "model": "all-MiniLM-L6-v2"})
    return emb


@torch.no_grad()
def encoder_latent(codec: Codec, image: ImageLike) -> torch.Tensor:
    """The frozen DC-AE encoder's latent of ``image`` (scaled, padded size): the distillation
    target. Explained in notebook ``06_alignment_mechanisms``."""
    x = pad_to_multiple(to_tensor(image), codec.pad_multiple).to(codec.device)
    with deterministic_threads():
        return codec.model.encode_latents(x)[0]


def trained_margin(codec: Codec) -> tuple[float, str]:
    """``(m, where)``: the margin the model's self-distillation was trained with, from its model
    card's training stages (the kit's recipe), else the model config's (the release's 0.5; an
    official checkpoint has no card). Explained in notebook ``06_alignment_mechanisms``."""
    stages = (codec.card or {}).get("stages") or {}
    margins = [s.get("args", {}).get("distill_margin") for s in stages.values() if isinstance(s, dict)]
    margins = [m for m in margins if m is not None]
    if margins:
        return float(margins[-1]), "the margin it was trained with (model card)"
    return float(codec.model.config.align.distill_margin), "the model config's margin (the release's)"


def distillation_table(codec: Codec, images: dict[str, ImageLike], steps: int = 1,
                       margin: float | None = None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Self-distillation, measured: per image the channel cosine between the frozen encoder's
    latent ``E(x)`` and (a) the decoded mean ``y_tilde`` (before the DiT), (b) the one-step output
    ``y_hat``. Columns: ``image``, ``latent``, ``cosine`` (mean over positions), ``above_margin``
    (fraction with cos > 1 - m, where the margin loss is zero), ``loss`` (L_sd, weight w).
    Also returns the per-position cosine maps of ``y_hat`` by image. ``margin``: ``m`` (default:
    :func:`trained_margin`). Explained in notebook ``06_alignment_mechanisms``.
    """
    cfg = codec.model.config.align
    m = trained_margin(codec)[0] if margin is None else float(margin)
    rows, maps = [], {}
    for name, img in images.items():
        pil = as_pil(img)
        target = encoder_latent(codec, pil)
        _, info = codec.decompress(codec.compress(pil), steps=steps, return_intermediates=True)
        for label, latent in (("y_tilde (before the DiT)", info["y_tilde"]), ("y_hat (one-step output)", info["y_hat"])):
            cos = align.channel_cosine(latent, target)
            rows.append({"image": name, "latent": label, "cosine": float(cos.mean()),
                         "above_margin": float((cos > 1 - m).float().mean()),
                         "loss": float(align.self_distillation_loss(latent, target, m, cfg.distill_weight))})
        maps[name] = align.channel_cosine(info["y_hat"], target)[0].cpu().numpy()
    return pd.DataFrame(rows), maps


def retrieval_table(codec: Codec, images: dict[str, ImageLike], captions: dict[str, str]) -> tuple[pd.DataFrame, np.ndarray, float]:
    """Latent-conditioned guidance, measured: the latent condition of each image (mean of the
    prompter tokens) against every caption embedding. Returns a table (``image``, ``own caption
    similarity``, ``best other``, ``retrieved``, ``correct``), the cosine matrix [images, captions]
    and the retrieval accuracy (chance = 1 / number of images); ``table.attrs`` holds ``note``
    (that sentence) and ``similarity`` (what the matrix is). When the tokens and the caption
    embeddings live in spaces of different widths (the official release: 2304-wide caption
    space), retrieval cannot be measured: the table is empty, the accuracy NaN and the matrix
    compares the images' conditions with each other. Explained in notebook ``06_alignment_mechanisms``.
    """
    names = list(images)
    emb = caption_embeddings([captions[n] for n in names])
    tokens = []
    for n in names:
        _, info = codec.decompress(codec.compress(as_pil(images[n])), steps=1, return_intermediates=True)
        tokens.append(info["tokens"])
    tokens = torch.cat(tokens).float().cpu()
    if tokens.shape[-1] != emb.shape[-1]:  # another caption space: compare the images' conditions instead
        cond = F.normalize(tokens.mean(1), dim=-1)
        table = pd.DataFrame(columns=["image", "own_caption", "best_other", "retrieved", "correct"])
        table.attrs.update(similarity="cos(latent condition, latent condition of another image)",
                           note=f"retrieval not measured: this model's latent condition has {tokens.shape[-1]} values "
                                f"per token (its DiT's caption space), the caption embeddings {emb.shape[-1]} "
                                "(all-MiniLM-L6-v2, the tiny model's space); shown instead: how alike the "
                                "images' conditions are")
        return table, (cond @ cond.t()).numpy(), float("nan")
    sim = (F.normalize(tokens.mean(1), dim=-1) @ F.normalize(emb, dim=-1).t()).cpu().numpy()
    acc = align.retrieval_accuracy(tokens, emb)
    rows = []
    for i, n in enumerate(names):
        others = np.delete(sim[i], i)
        best = int(sim[i].argmax())
        rows.append({"image": n, "own_caption": float(sim[i, i]), "best_other": float(others.max()) if len(others) else float("nan"),
                     "retrieved": names[best], "correct": best == i})
    table = pd.DataFrame(rows)
    table.attrs.update(similarity="cos(latent condition, caption embedding)",
                       note=f"retrieval accuracy {acc:.2f} over {len(names)} images (chance {1 / len(names):.2f})")
    return table, sim, acc


@torch.no_grad()
def decode_with_tokens(codec: Codec, data: bytes, tokens: torch.Tensor | None, steps: int = 1) -> Image.Image:
    """Decode ``data`` with the given latent condition instead of the prompter's (``None``: the
    empty condition, zeros). Same flow, residual and decoder as the codec (``DiTIC.reconstruct``).
    Explained in notebook ``06_alignment_mechanisms``."""
    model = codec.model
    header, out, _ = codec.entropy_decode(data)
    with deterministic_threads():
        if tokens is None:
            tokens = torch.zeros_like(model.prompter(out["prompt"]))
        image = model.reconstruct(out, steps=steps, tokens=tokens)["image"]
    return to_pil(image[..., : header.height, : header.width])


def condition_ablation(codec: Codec, image: ImageLike, metrics: Sequence[str] = ("psnr", "ms_ssim")) -> tuple[dict[str, Image.Image], pd.DataFrame]:
    """Reconstruct the same bytes with the latent condition and with an empty one (zero tokens).
    Returns the images and a table (``condition``, metrics, and a ``change`` row).
    Explained in notebook ``06_alignment_mechanisms``.
    """
    pil = as_pil(image)
    data = codec.compress(pil)
    latent = codec.decompress(data)
    empty = decode_with_tokens(codec, data, None)
    images = {"latent condition": latent, "empty condition": empty}
    table = pd.DataFrame([{"condition": k, **M.scores(pil, v, metrics)} for k, v in images.items()])
    change = {"condition": "change (empty - latent)", **{m: float(table[m].iloc[1] - table[m].iloc[0]) for m in metrics}}
    return images, pd.concat([table, pd.DataFrame([change])], ignore_index=True)


def swap_condition(codec: Codec, image: ImageLike, donor: ImageLike,
                   metrics: Sequence[str] = ("psnr",)) -> tuple[dict[str, Image.Image], dict[str, dict[str, float]]]:
    """Decode ``image``'s bytes with its own latent condition and with the condition made from
    ``donor``'s code (same bytes, same step; only the tokens change). Returns the two
    reconstructions and their scores against ``image``. Explained in notebook ``06_alignment_mechanisms``
    (an exercise)."""
    pil = as_pil(image)
    data = codec.compress(pil)
    _, donor_info = codec.decompress(codec.compress(as_pil(donor)), return_intermediates=True)
    images = {"own condition": codec.decompress(data), "donor's condition": decode_with_tokens(codec, data, donor_info["tokens"])}
    return images, {k: M.scores(pil, v, metrics) for k, v in images.items()}


def captioned(images: dict[str, ImageLike], captions: dict[str, str]) -> dict[str, ImageLike]:
    """The images that have a caption (retrieval needs one per image), saying which are left out
    (e.g. a photo of your own: its caption is not in ``data/samples/captions.csv``).
    Explained in notebook ``06_alignment_mechanisms``."""
    missing = [name for name in images if name not in captions]
    if missing:
        print(f"no caption for {', '.join(missing)} (captions: data/samples/captions.csv): left out of the retrieval test")
    return {name: img for name, img in images.items() if name in captions}


ABLATION_CSV = Path(__file__).resolve().parents[2] / "data" / "ablations" / "alignment.csv"
ABLATION_COMMAND = "python scripts/ablation_alignment.py --runs runs --steps 150"


def alignment_ablation(path: str | Path | None = None) -> pd.DataFrame | None:
    """The shipped self-distillation ablation (``data/ablations/alignment.csv``, written by
    ``scripts/ablation_alignment.py``), or ``None`` when it has not been run.
    Explained in notebook ``06_alignment_mechanisms``.
    """
    path = Path(path) if path is not None else ABLATION_CSV
    return pd.read_csv(path) if path.exists() else None


def ablation_report(table: pd.DataFrame | None) -> str:
    """What the ablation CSV says: first one plain sentence computed from its numbers (whether
    the two runs differ by more than the smallest differences worth claiming,
    ``margins.MARGINS``; if not, that it shows nothing, and why where the CSV says), then the
    numbers; or that it has not been run and the command that runs it.
    Explained in notebook ``06_alignment_mechanisms``.
    """
    from ..margins import MARGINS

    if table is None:
        return ("The self-distillation ablation has NOT been run: data/ablations/alignment.csv is missing.\n"
                f"Run it (needs a trained codec stage and the training photos):\n    {ABLATION_COMMAND}\n"
                "The live measurements below do not need it.")
    steps = int(table["steps"].iloc[0])
    numbers = f"Ablation from {ABLATION_CSV.name}: {len(table)} variant(s), {steps} codec-stage steps each."
    by = table.set_index("variant")
    if not {"full", "no_distill"} <= set(by.index):
        return numbers
    f, n = by.loc["full"], by.loc["no_distill"]
    d_cos, d_psnr = f["cosine_yhat_encoder"] - n["cosine_yhat_encoder"], f["psnr"] - n["psnr"]
    numbers += (f"\ncos(y_hat, E(x)): {f['cosine_yhat_encoder']:.3f} with L_sd vs {n['cosine_yhat_encoder']:.3f} "
                f"without ({d_cos:+.3f}); PSNR {d_psnr:+.3f} dB, bpp {f['bpp'] - n['bpp']:+.4f}.")
    if abs(d_psnr) < MARGINS["psnr"] and abs(d_cos) < MARGINS["cosine"]:
        plain = (f"In plain words: this ablation shows nothing. Training {steps} steps with and without the "
                 f"self-distillation loss ends {abs(d_psnr):.3f} dB and "
                 f"{f'{abs(d_cos):.4f}' if abs(d_cos) >= 1e-4 else 'less than 0.0001'} in cosine apart, far below "
                 f"the smallest differences worth claiming ({MARGINS['psnr']:g} dB, {MARGINS['cosine']:g}), and with "
                 "one run per variant there is no spread to judge any difference against.")
        if "above_margin" in by and min(f["above_margin"], n["above_margin"]) >= 0.99:
            plain += (f" Why: even the run trained without the loss ends with {n['above_margin']:.0%} of the "
                      "positions past the margin, where the loss is zero, so here the loss had almost nothing to do.")
    else:
        plain = ("In plain words: the two runs differ by more than the smallest differences worth claiming "
                 f"({MARGINS['psnr']:g} dB, {MARGINS['cosine']:g} in cosine), but with one run per variant there is "
                 "no spread: read it as a hint, not a verdict.")
    return plain + "\n" + numbers
