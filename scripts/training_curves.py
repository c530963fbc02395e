"""Quality against training steps, kept across training runs: ``figures/training_curves.png``.

``runs/`` is lost when a session ends, so the measured points are appended to two CSV files that
are committed with the checkpoints and grow run after run:

- ``data/results/training_curve_autoencoder.csv``: held-out exact-latent quality of the
  autoencoder (``runs/ae/progress.json``, written every ``--validate-minutes`` of ``train ae``);
- ``data/results/training_curve_codec.csv``: the validation numbers in the model cards of each
  export against the codec's cumulative training steps (warm-up + stage 1 + the rate point's own
  stage) and the steps of DiT-IC's pixel-space tune (``tune_steps``); ``--not-shipped`` records an export that was measured and then not kept (``shipped``
  column), so that the curve shows every run; ``--ae-not-shipped`` does the same for an autoencoder
  run whose decoder was not kept (the projection then follows the shipped recipe).

It also projects, from the measured curves, how many steps each quality target of issue 20 would
take with the same recipe (``data/results/training_projection.csv``): quality is fitted as
``a + b * log2(steps)`` (a gain per doubling of steps, which is how these curves have behaved) over
the last points, and the fit is solved for the target. A projection is only as good as that
straight line; a slope <= 0 means more steps of this recipe do not reach the target.

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

from ditic_lite.training.runs import RunFolder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "results"
CHECKPOINTS = ROOT / "ditic_lite" / "checkpoints"
AE_CSV, CODEC_CSV = RESULTS / "training_curve_autoencoder.csv", RESULTS / "training_curve_codec.csv"
PROJECTION_CSV = RESULTS / "training_projection.csv"
# issue 20's targets on the validation photos: autoencoder on exact latents, codec at <= 0.045 bpp
# (issue 14's were 24.5 dB / 0.86 and 0.80 at <= 0.05 bpp)
AE_TARGETS = {"psnr": 26.0, "ms_ssim": 0.90}
CODEC_MS_SSIM_TARGET, CODEC_MAX_BPP = 0.80, 0.045


def minutes_at(step: int, runs: list[dict]) -> float:
    """Cumulative wall minutes at ``step``, interpolated inside the run that covered it."""
    done = 0.0
    for run in runs:
        lo, hi, minutes = run["from_step"], run["to_step"], run["minutes"]
        if step <= hi:
            return done + minutes * (step - lo) / max(hi - lo, 1)
        done += minutes
    return done


def autoencoder_rows(runs_dir: Path, shipped: bool = True) -> pd.DataFrame:
    progress = RunFolder(runs_dir).progress("ae")
    if not progress:
        return pd.DataFrame()
    runs = progress.get("runs", [])
    rows = []
    for entry in progress.get("history", []):
        if "val_psnr" not in entry:
            continue
        # a resumed run measures again at its first step: that point belongs to the run before
        run = next((r for r in runs if r["from_step"] < entry["step"] <= r["to_step"]),
                   next((r for r in runs if r["from_step"] <= entry["step"] <= r["to_step"]), {}))
        recipe = recipe_of(run)
        start = next((r["from_step"] for r in runs if recipe_of(r) == recipe), 0) if recipe.startswith(FINE_TUNE) else 0
        rows.append({"step": entry["step"], "minutes": round(minutes_at(entry["step"], runs), 2),
                     "psnr": entry["val_psnr"], "ms_ssim": entry["val_ms_ssim"],
                     "encoder_trained": not run.get("freeze_encoder", False), "recipe": recipe,
                     "recipe_start": start, "hardware": run.get("hardware", ""),
                     "shipped": shipped or run is not runs[-1]})  # only the newest run can be the experiment
    return pd.DataFrame(rows)


FINE_TUNE = "decoder fine-tune"


def recipe_of(run: dict) -> str:
    """What a run of ``train ae`` trained, how: the curves of different recipes are kept apart."""
    if not run.get("freeze_encoder", False):
        return "encoder + decoder"
    share, weight, crop = run.get("decoded_share") or 0, run.get("ms_ssim_weight") or 0, run.get("crop", 128)
    if not share and not weight and crop == 128:
        return "decoder only"
    return f"{FINE_TUNE}: {crop} px, {share:.0%} on decoded latents, MS-SSIM x{weight:g}"


def with_recipes(ae: pd.DataFrame) -> pd.DataFrame:
    """``ae`` with ``recipe`` and ``recipe_start`` columns; rows from before recipes were recorded
    were either the first autoencoder runs or the decoder alone (:func:`recipe_of`)."""
    if "encoder_trained" not in ae or "recipe" in ae:
        return ae
    recipes = [recipe_of({"freeze_encoder": not trained}) for trained in ae["encoder_trained"]]
    return ae.assign(recipe=recipes, recipe_start=0)


def codec_rows(shipped: bool = True) -> pd.DataFrame:
    rows = []
    for card_path in sorted(CHECKPOINTS.glob("*/rate*.json")):
        card = json.loads(card_path.read_text())
        if "validation" not in card:
            continue
        stages = card.get("stages", {})
        codec_stages = [s or {} for name, s in stages.items() if name != "tune"]
        steps = sum(s.get("steps", 0) for s in codec_stages)
        minutes = sum(s.get("minutes_total", 0.0) for s in codec_stages)
        ae_steps = json.loads((CHECKPOINTS / "tiny" / "base.json").read_text())["stages"]["ae"]["steps"]
        rows.append({"model": card["model"], "rate": card["rate"], "codec_steps": steps,
                     "codec_minutes": round(minutes, 1), "autoencoder_steps": ae_steps,
                     "tune_steps": (stages.get("tune") or {}).get("steps", 0),
                     "bpp": card["validation"]["bpp"], "psnr": card["validation"]["psnr"],
                     "ms_ssim": card["validation"]["ms_ssim"], "shipped": shipped})
    return pd.DataFrame(rows)


def append(path: Path, new: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    old = with_recipes(pd.read_csv(path)) if path.exists() else pd.DataFrame()
    table = pd.concat([old, new], ignore_index=True)
    if "shipped" in table:  # rows from before the column existed were all shipped
        table["shipped"] = table["shipped"].fillna(True).astype(bool)
    if "tune_steps" in table:  # exports from before the pixel-space tune had none
        table["tune_steps"] = table["tune_steps"].fillna(0).astype(int)
    if len(table):
        table = table.drop_duplicates(subset=key, keep="last").sort_values(key).reset_index(drop=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return table


def projected_steps(steps: np.ndarray, values: np.ndarray, target: float, last: int = 4) -> dict:
    """Fit ``value = a + b log2(steps)`` to the ``last`` points and solve it for ``target``.

    Returns the gain per doubling ``b``, the step count where the line reaches ``target`` (the
    last step if it is reached already, ``nan`` if ``b <= 0`` or fewer than two points) and the
    number of points fitted.
    """
    order = np.argsort(steps)
    x, y = np.log2(np.asarray(steps, float)[order][-last:]), np.asarray(values, float)[order][-last:]
    if len(x) < 2 or np.ptp(x) == 0:
        return {"gain_per_doubling": float("nan"), "projected_steps": float("nan"), "points": len(x)}
    slope, intercept = np.polyfit(x, y, 1)
    if y[-1] >= target:
        reach = float(np.asarray(steps, float)[order][-1])
    else:
        reach = 2.0 ** ((target - intercept) / slope) if slope > 0 else float("nan")
    return {"gain_per_doubling": float(slope), "projected_steps": float(reach), "points": len(x)}


def projections(ae: pd.DataFrame, codec: pd.DataFrame) -> pd.DataFrame:
    """Steps to each of issue 20's quality targets, projected from the measured curves."""
    rows = []
    # the curve of the newest recipe (the decoder alone once the latent cache froze the encoder,
    # then its fine-tune); a fine-tune counts its own steps, from where it started
    ae = with_recipes(ae)
    if "shipped" in ae:  # an experiment that was not kept has no say in where the shipped recipe goes
        ae = ae[ae["shipped"]]
    trained = ae[ae["recipe"] == ae.sort_values("step")["recipe"].iloc[-1]] if len(ae) else ae
    for metric, target in AE_TARGETS.items():
        if len(trained):
            start = int(trained["recipe_start"].max())
            fit = projected_steps(trained["step"].to_numpy() - start, trained[metric].to_numpy(), target)
            if start and np.isfinite(fit["projected_steps"]):
                fit["projected_steps"] += start
            rows.append({"what": f"autoencoder {metric}", "target": target,
                         "steps_of": f"autoencoder ({trained['recipe'].iloc[0]}"
                                     + (f", steps since {start})" if start else ")"),
                         "last_steps": int(trained["step"].max()), "last_value": float(trained.sort_values("step")[metric].iloc[-1]),
                         **fit})
    if len(codec) and "tune_steps" not in codec:
        codec = codec.assign(tune_steps=0)
    for (model, rate), group in codec.groupby(["model", "rate"]) if len(codec) else ():
        # the codec's own recipe: exports before DiT-IC's pixel-space tune (which adds no codec step)
        group = group[group["tune_steps"] == 0].sort_values("codec_steps")
        if not len(group):
            continue
        if group["bpp"].iloc[-1] > CODEC_MAX_BPP:
            continue
        fit = projected_steps(group["codec_steps"].to_numpy(), group["ms_ssim"].to_numpy(), CODEC_MS_SSIM_TARGET)
        rows.append({"what": f"{model} rate {rate} ms_ssim", "target": CODEC_MS_SSIM_TARGET, "steps_of": "codec (untuned exports)",
                     "last_steps": int(group["codec_steps"].iloc[-1]), "last_value": float(group["ms_ssim"].iloc[-1]),
                     **fit})
    return pd.DataFrame(rows)


def plot(ae: pd.DataFrame, codec: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    twin = ax.twinx()
    if len(ae):
        first = ae.loc[[ae["step"].idxmin()]]  # the run both kinds of continuation started from
        recipes = list(ae.sort_values("step")["recipe"].unique())
        for recipe, colour in zip(recipes, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")):
            group = ae[ae["recipe"] == recipe]
            start = int(group["recipe_start"].max()) if "recipe_start" in group else 0
            # a fine-tune's line starts at the point it continued from, the others at the first run's
            origin = ae[(ae["step"] == start) & (ae["recipe"] != recipe)].head(1) if start else first
            group = pd.concat([origin, group]).drop_duplicates("step").sort_values("step")
            label = recipe.replace("decoder only", "decoder only (latent kept)")
            label += "" if group.get("shipped", pd.Series([True])).all() else " (not shipped)"
            ax.plot(group["step"], group["psnr"], "o-", ms=3, color=colour, label=f"{label}: PSNR")
            twin.plot(group["step"], group["ms_ssim"], "s:", ms=3, color=colour, label=f"{label}: MS-SSIM")
    twin.set_ylabel("MS-SSIM (dotted)")
    ax.set_xscale("log")
    ax.set_xlabel("autoencoder training steps (batch 8 x 128 px crops unless the legend says; log scale)")
    ax.set_ylabel("PSNR on exact latents (dB, solid)")
    ax.set_title("autoencoder on held-out photos: the quality ceiling")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    if len(codec):
        exports = sorted(set(zip(codec["autoencoder_steps"], codec["tune_steps"])))
        for (export, tune), colour in zip(exports, plt.cm.viridis(np.linspace(0.15, 0.85, len(exports)))):
            for model, style in (("tiny", "o-"), ("mse", "x--")):
                group = codec[(codec["autoencoder_steps"] == export) & (codec["tune_steps"] == tune)
                              & (codec["model"] == model)].sort_values("bpp")
                if not len(group):
                    continue
                steps = int(group["codec_steps"].max())
                name = "DiT-IC" if model == "tiny" else "MSE baseline"
                kept = "" if group.get("shipped", pd.Series([True])).all() else " (not shipped)"
                tuned = f" + {tune} tune" if tune else ""
                ax.plot(group["bpp"], group["ms_ssim"], style, color=colour,
                        label=f"{name}, export with {export} AE / {steps} codec steps{tuned}{kept}")
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (real file bytes; log scale)")
    ax.set_ylabel("MS-SSIM on the validation photos")
    ax.set_title("codec: rate-quality of each export")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "training_curves.png")
    parser.add_argument("--not-shipped", action="store_true",
                        help="the cards in ditic_lite/checkpoints are an export that will not be kept")
    parser.add_argument("--ae-not-shipped", action="store_true",
                        help="the autoencoder run in --runs is an experiment whose decoder was not kept")
    args = parser.parse_args()
    ae = append(AE_CSV, autoencoder_rows(args.runs, shipped=not args.ae_not_shipped), ["step", "recipe"])
    codec = append(CODEC_CSV, codec_rows(shipped=not args.not_shipped), ["model", "rate", "codec_steps", "autoencoder_steps", "tune_steps"])
    plot(ae, codec, args.out)
    projection = projections(ae, codec)
    if len(projection):
        projection.to_csv(PROJECTION_CSV, index=False, float_format="%.4g")
        print(projection.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if len(ae):
        best = ae.loc[np.argmax(ae["psnr"].to_numpy())]
        print(f"autoencoder: {len(ae)} points, best {best['psnr']:.2f} dB / {best['ms_ssim']:.3f} at step {best['step']}")
    print(f"codec: {len(codec)} points -> {args.out}")


if __name__ == "__main__":
    main()
