"""Running the recipe (:mod:`.recipe`): phase by phase, resumable, then the export.

* :func:`run_recipe`: the phases in order (a phase already done is skipped);
* :func:`train_all`: ``ditic-lite train all`` (``--toy``, ``--from-shipped --minutes``:
  ``scripts/train_shipped.sh``);
* :func:`train_gpu`: the recipe on one GPU from the shipped checkpoints (``scripts/train_gpu.sh``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .export import export, seed_runs
from .loop import make_cache, train
from .recipe import RECIPE, Phase, gpu_recipe, phase_args, toy_recipe
from .runs import RunFolder, hardware
from .stages.realism import export_realism


def run_recipe(recipe: tuple[Phase, ...], runs: Path, data: Path, minutes: float | None = None,
               on_top: bool = False, **run: Any) -> list[dict[str, Any]]:
    """Run the phases in order, resumable: a phase whose stage already reached the phase's last
    step is skipped. ``on_top``: the phases add their steps to those already in ``runs`` (a
    recipe continued from the shipped checkpoints); ``minutes``: a time budget shared over the
    phases in proportion to their steps; ``run``: run settings for every phase (seed, cpu, ...).
    Returns the summaries of what ran."""
    folder, done, ran = RunFolder(runs), {}, []
    total_steps = sum(p.steps for p in recipe)
    for phase in recipe:
        tic = time.time()
        if phase.stage == "cache":
            if not folder.cache_index.exists():
                make_cache(runs, data)
            continue
        done[phase.stage] = done.get(phase.stage, folder.step(phase.stage) if on_top else 0) + phase.steps
        if folder.step(phase.stage) >= done[phase.stage]:
            continue  # this phase ran already
        budget = {"max_minutes": minutes * phase.steps / total_steps} if minutes else {}
        summary = train(phase_args(phase, runs, data, done[phase.stage], **budget, **run))
        ran.append({"phase": phase.name, **summary})
        print(f"{phase.name}: {(time.time() - tic) / 60:.1f} min", flush=True)
    return ran


def train_all(runs: Path, data: Path, seed: int = 0, cpu: bool = False, toy: bool = False,
              out: Path | None = None, from_shipped: bool = False, minutes: float | None = None) -> list[dict[str, Any]]:
    """``ditic-lite train all``: the recipe (or its toy version), then the export to ``out``
    (default: the kit's checkpoints; a toy run's go to ``runs/checkpoints``). ``from_shipped``:
    the phases continue the shipped checkpoints (``scripts/train_shipped.sh``), within ``minutes``."""
    from .. import zoo

    recipe = toy_recipe() if toy else RECIPE
    if from_shipped:
        seed_runs(runs)
    run_recipe(recipe, runs, data, minutes=minutes, on_top=from_shipped, seed=seed, cpu=cpu)
    out = out or (runs / "checkpoints" if toy else zoo.CHECKPOINT_DIR)
    return export_all(runs, out, data, recipe)


def export_all(runs: Path, out: Path, data: Path, recipe: tuple[Phase, ...]) -> list[dict[str, Any]]:
    """Export the codecs (:func:`.export.export`) and, where the recipe trained one, the realism
    decoder's head (:func:`.stages.realism.export_realism`): their cards, the head's last."""
    cards = export(runs, out=out, data=data, recipe=recipe)
    if any(p.stage == "realism" for p in recipe) and RunFolder(runs).own_tensors("realism").exists():
        cards.append(export_realism(runs, out=out, data=data))
    return cards


def train_gpu(out: Path, data: Path, minutes: float = 5.0, toy: bool = False) -> dict[str, Any]:
    """The recipe on one GPU (``scripts/train_gpu.sh``): continue every phase from the shipped
    checkpoints (:func:`gpu_recipe`, time-boxed), export with cards, write ``out/summary.json``."""
    tic = time.time()
    runs = out / "runs"
    seed_runs(runs)
    bundled = data / "captions.safetensors"  # caption embeddings computed elsewhere (scripts/gpu_bundle.py)
    if bundled.exists() and not RunFolder(runs).captions_file.exists():
        RunFolder(runs).captions_file.write_bytes(bundled.read_bytes())
    recipe = toy_recipe(gpu_recipe()) if toy else gpu_recipe()
    ran = run_recipe(recipe, runs, data, minutes=minutes, on_top=True)
    train_minutes = (time.time() - tic) / 60
    cards = export_all(runs, out / "checkpoints", data, recipe)
    summary = {"hardware": hardware(), "plan_minutes": minutes, "train_minutes": train_minutes,
               "total_minutes": (time.time() - tic) / 60,
               "phases": [{k: s[k] for k in ("phase", "stage", "steps", "minutes_this_run", "final_losses")}
                          for s in ran],
               "validation": [{"model": c["model"], "rate": c.get("rate"), "validation": c.get("validation")} for c in cards]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
