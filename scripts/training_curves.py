"""Quality against training steps, kept across training runs: ``figures/training_curves.png``.

``runs/`` is lost when a session ends, so the measured points are appended to two CSV files that
are committed with the checkpoints and grow run after run:

- ``data/results/training_curve_autoencoder.csv``: held-out exact-latent quality of the
  autoencoder (``runs/ae/progress.json``, written every ``--validate-minutes`` of ``train ae``);
- ``data/results/training_curve_codec.csv``: the validation numbers in the shipped model cards
  against the codec's cumulative training steps (warm-up + stage 1 + the rate point's own stage).

    python scripts/training_curves.py [--runs runs]     # append what is new, redraw the figure
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "results"
CHECKPOINTS = ROOT / "ditic_lite" / "checkpoints"
AE_CSV, CODEC_CSV = RESULTS / "training_curve_autoencoder.csv", RESULTS / "training_curve_codec.csv"


def minutes_at(step: int, runs: list[dict]) -> float:
    """Cumulative wall minutes at ``step``, interpolated inside the run that covered it."""
    done = 0.0
    for run in runs:
        lo, hi, minutes = run["from_step"], run["to_step"], run["minutes"]
        if step <= hi:
            return done + minutes * (step - lo) / max(hi - lo, 1)
        done += minutes
    return done


def autoencoder_rows(runs_dir: Path) -> pd.DataFrame:
    progress_file = runs_dir / "ae" / "progress.json"
    if not progress_file.exists():
        return pd.DataFrame()
    progress = json.loads(progress_file.read_text())
    runs = progress.get("runs", [])
    rows = []
    for entry in progress.get("history", []):
        if "val_psnr" not in entry:
            continue
        run = next((r for r in runs if r["from_step"] <= entry["step"] <= r["to_step"]), {})
        rows.append({"step": entry["step"], "minutes": round(minutes_at(entry["step"], runs), 2),
                     "psnr": entry["val_psnr"], "ms_ssim": entry["val_ms_ssim"],
                     "encoder_trained": not run.get("freeze_encoder", False),
                     "hardware": run.get("hardware", "")})
    return pd.DataFrame(rows)


def codec_rows() -> pd.DataFrame:
    rows = []
    for card_path in sorted(CHECKPOINTS.glob("*/rate*.json")):
        card = json.loads(card_path.read_text())
        if "validation" not in card:
            continue
        stages = card.get("stages", {})
        steps = sum((s or {}).get("steps", 0) for s in stages.values())
        minutes = sum((s or {}).get("minutes_total", 0.0) for s in stages.values())
        ae_steps = json.loads((CHECKPOINTS / "tiny" / "base.json").read_text())["stages"]["ae"]["steps"]
        rows.append({"model": card["model"], "rate": card["rate"], "codec_steps": steps,
                     "codec_minutes": round(minutes, 1), "autoencoder_steps": ae_steps,
                     "bpp": card["validation"]["bpp"], "psnr": card["validation"]["psnr"],
                     "ms_ssim": card["validation"]["ms_ssim"]})
    return pd.DataFrame(rows)


def append(path: Path, new: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    old = pd.read_csv(path) if path.exists() else pd.DataFrame()
    table = pd.concat([old, new], ignore_index=True)
    if len(table):
        table = table.drop_duplicates(subset=key, keep="last").sort_values(key).reset_index(drop=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return table


def plot(ae: pd.DataFrame, codec: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    twin = ax.twinx()
    if len(ae):
        first = ae.loc[[ae["step"].idxmin()]]  # the run both kinds of continuation started from
        for (trained, group), colour in zip(ae.groupby("encoder_trained"), ("tab:blue", "tab:orange")):
            group = pd.concat([first, group]).drop_duplicates("step").sort_values("step")
            label = "encoder + decoder trained" if trained else "decoder only (latent kept)"
            ax.plot(group["step"], group["psnr"], "o-", ms=3, color=colour, label=f"{label}: PSNR")
            twin.plot(group["step"], group["ms_ssim"], "s:", ms=3, color=colour, label=f"{label}: MS-SSIM")
    twin.set_ylabel("MS-SSIM (dotted)")
    ax.set_xscale("log")
    ax.set_xlabel("autoencoder training steps (batch 8, 128 px crops; log scale)")
    ax.set_ylabel("PSNR on exact latents (dB, solid)")
    ax.set_title("autoencoder on held-out photos: the quality ceiling")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    if len(codec):
        exports = sorted(codec["autoencoder_steps"].unique())
        for export, colour in zip(exports, plt.cm.viridis(np.linspace(0.15, 0.85, len(exports)))):
            for model, style in (("tiny", "o-"), ("mse", "x--")):
                group = codec[(codec["autoencoder_steps"] == export) & (codec["model"] == model)].sort_values("bpp")
                steps = int(group["codec_steps"].max()) if len(group) else 0
                name = "DiT-IC" if model == "tiny" else "MSE baseline"
                ax.plot(group["bpp"], group["ms_ssim"], style, color=colour,
                        label=f"{name}, export with {export} AE / {steps} codec steps")
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (real file bytes; log scale)")
    ax.set_ylabel("MS-SSIM on the validation photos")
    ax.set_title("codec: rate-quality of each shipped export")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "training_curves.png")
    args = parser.parse_args()
    ae = append(AE_CSV, autoencoder_rows(args.runs), ["step", "encoder_trained"])
    codec = append(CODEC_CSV, codec_rows(), ["model", "rate", "codec_steps", "autoencoder_steps"])
    plot(ae, codec, args.out)
    if len(ae):
        best = ae.loc[np.argmax(ae["psnr"].to_numpy())]
        print(f"autoencoder: {len(ae)} points, best {best['psnr']:.2f} dB / {best['ms_ssim']:.3f} at step {best['step']}")
    print(f"codec: {len(codec)} points -> {args.out}")


if __name__ == "__main__":
    main()
