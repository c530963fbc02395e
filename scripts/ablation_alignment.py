"""Self-distillation ablation of the tiny tier: short codec fine-tunes with and without the loss.

Writes ``data/ablations/alignment.csv``, which notebook ``06_alignment_mechanisms`` shows.

What it does, per variant (same seed, data, steps and lambdas; both start from the trained codec
weights of the main recipe in ``--runs``):

* ``full``         the codec stage's loss as shipped: L = lambda_r R + D + L_sd + L_cond
* ``no_distill``   the same with the self-distillation weight set to 0 (no L_sd)
* ``no_cond``      (optional, ``--variants full,no_distill,no_cond``) the contrastive weight set to 0

Each variant gets its own runs folder ``<out-runs>/<variant>/`` holding links to the recipe's
``ae`` and ``dit`` weights and its latent cache, a copy of its ``codec`` stage (weights and rate
steps) and a ``config.json`` with the changed weight, then ``ditic_lite.training.loop.train(stage="codec")``
runs there. The result is measured at rate point ``--rate`` on the held-out validation photos
(``ditic_lite.training.data.VALIDATION``) through the real codec: file bpp, PSNR, MS-SSIM, the channel
cosine between the one-step output and the frozen encoder's latent (what L_sd pulls up), the
fraction above the margin, and caption retrieval accuracy of the latent condition.

Needs: a trained codec stage (``ditic-lite train ae``, ``cache``, ``dit``, ``codec`` or ``train
all``) and the training photos (``--data``, default ``$DITIC_TRAIN_DATA`` or ``../shared/data/train``).

    python scripts/ablation_alignment.py --runs runs --steps 150            # ~2 x 150 steps
    python scripts/ablation_alignment.py --runs runs --steps 150 --max-minutes 30

Rerunning resumes unfinished variants (the training state is kept in each variant's folder).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from ditic_lite import align  # noqa: E402
from ditic_lite.codec import Codec  # noqa: E402
from ditic_lite.config import DiTICConfig  # noqa: E402
from ditic_lite.images import to_pil  # noqa: E402
from ditic_lite.metrics import bits_per_pixel, ms_ssim, psnr  # noqa: E402
from ditic_lite.training.runs import RunFolder  # noqa: E402
from ditic_lite.training.loop import train  # noqa: E402
from ditic_lite.training.config import DEFAULT_DATA  # noqa: E402
from ditic_lite.training.stages import CodecConfig, stage_config  # noqa: E402
from ditic_lite.training.data import VALIDATION, caption_embeddings, load_validation_set, read_captions  # noqa: E402

VARIANTS = {  # name -> (distill_weight factor, contrastive_weight factor)
    "full": (1.0, 1.0),
    "no_distill": (0.0, 1.0),
    "no_cond": (1.0, 0.0),
}
OUT_CSV = ROOT / "data" / "ablations" / "alignment.csv"


def prepare_runs(recipe_runs: Path, variant_runs: Path, variant: str) -> DiTICConfig:
    """Link the recipe's ae/dit weights and cache into ``variant_runs``, copy its codec stage (the
    variant trains it further) and write the changed config."""
    recipe, variant_folder = RunFolder(recipe_runs), RunFolder(variant_runs)
    files = [(RunFolder.weights, "ae", True), (RunFolder.weights, "dit", True),
             (RunFolder.weights, "codec", False), (RunFolder.own_tensors, "codec", False)]
    for path_of, stage, link in files:
        src = path_of(recipe, stage)
        if not src.exists():
            raise SystemExit(f"{src} not found: train the codec first (ditic-lite train ae / cache / dit / codec)")
        dst = path_of(variant_folder, stage)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            continue
        try:
            if not link:
                raise OSError("a trained stage is copied: training writes to it")
            os.symlink(src.resolve(), dst)
        except OSError:
            shutil.copy(src, dst)
    if not variant_folder.cache.exists():
        os.symlink(recipe.cache.resolve(), variant_folder.cache, target_is_directory=True)
    cfg = recipe.config()
    distill, cond = VARIANTS[variant]
    cfg.align.distill_weight *= distill
    cfg.align.contrastive_weight *= cond
    cfg.save(variant_folder.config_file)
    return cfg


@torch.no_grad()
def measure(codec: Codec, images: list[torch.Tensor], cap_emb: torch.Tensor) -> dict[str, float]:
    """Validation means through the real codec, plus the two alignment measurements."""
    model, margin = codec.model, codec.model.config.align.distill_margin
    rows, tokens = [], []
    for x in images:
        data = codec.compress(x)
        rec, info = codec.decompress(data, return_intermediates=True)
        orig = to_pil(x)
        target = model.encode_latents(x)[0]
        cos = align.channel_cosine(info["y_hat"], target)
        rows.append((bits_per_pixel(len(data), x.shape[-2], x.shape[-1]), psnr(orig, rec), ms_ssim(orig, rec),
                     float(cos.mean()), float((cos > 1 - margin).float().mean())))
        tokens.append(info["tokens"])
    t = torch.tensor(rows).mean(0).tolist()
    return {"bpp": t[0], "psnr": t[1], "ms_ssim": t[2], "cosine_yhat_encoder": t[3], "above_margin": t[4],
            "retrieval_accuracy": align.retrieval_accuracy(torch.cat(tokens), cap_emb), "images": len(images)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="runs", help="the main recipe's runs folder (ae, cache, dit, codec done)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="training photos with captions.csv")
    p.add_argument("--out-runs", default=None, help="variant runs (default: <runs>/ablation_alignment)")
    p.add_argument("--variants", default="full,no_distill", help=f"comma list of {sorted(VARIANTS)}")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rate", type=int, default=1, help="the rate point measured")
    p.add_argument("--batch-size", type=int, default=CodecConfig.batch_size)
    p.add_argument("--crop", type=int, default=CodecConfig.crop, help="latent pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=1e9, help="per variant (resumable)")
    p.add_argument("--out", default=str(OUT_CSV))
    args = p.parse_args(argv)

    runs, data = Path(args.runs), Path(args.data)
    out_runs = Path(args.out_runs) if args.out_runs else runs / "ablation_alignment"
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    validation = load_validation_set(data)
    captions = dict(read_captions(data))
    cap_emb = caption_embeddings([captions[v] for v in VALIDATION])
    results = []
    for variant in variants:
        vruns = out_runs / variant
        cfg = prepare_runs(runs, vruns, variant)
        summary = train(stage_config("codec", data=data, runs=vruns, steps=args.steps,
                                            batch_size=args.batch_size, crop=args.crop, seed=args.seed,
                                            max_minutes=args.max_minutes))
        minutes = summary["minutes_total"]  # over every resumed run of this variant
        if summary["steps"] < args.steps:
            print(f"{variant}: stopped at step {summary['steps']} of {args.steps}; rerun to resume")
            continue
        model = RunFolder(vruns).codec("codec", args.rate)
        model.codec.update(force=True)
        codec = Codec(model=model, name="tiny", rate=args.rate, rates=[args.rate], checkpoint_id=b"ablation")
        row = {"variant": variant, "distill_weight": cfg.align.distill_weight,
               "contrastive_weight": cfg.align.contrastive_weight, "steps": summary["steps"],
               "lmbda": summary["args"]["lambdas"][args.rate],
               "seed": args.seed, **measure(codec, validation, cap_emb), "train_minutes": round(minutes, 2),
               "hardware": summary.get("hardware", "")}
        print(json.dumps(row))
        results.append(row)
    if results:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(results[0]))
            writer.writeheader()
            writer.writerows(results)
        print(f"wrote {out} ({len(results)} variants)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
