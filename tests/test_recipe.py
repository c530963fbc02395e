"""The recipe of the shipped checkpoints (ditic_lite/training/recipe.py): what it says, and a toy run of it."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ditic_lite import zoo
from ditic_lite.training import recipe
from ditic_lite.training.stages import STAGE_CONFIGS

SHIPPED_STAGES = {"ae": "tiny/base", "dit": "tiny/base", "codec": "tiny/shared", "tune": "tiny/shared",
                  "mse": "mse/shared", "realism": "tiny/realism"}


def test_the_phases_add_up_to_the_steps_of_the_shipped_cards():
    totals = recipe.steps_per_stage()
    for stage, card in SHIPPED_STAGES.items():
        record = json.loads((zoo.CHECKPOINT_DIR / f"{card}.json").read_text())["stages"][stage]
        assert totals[stage] == record["steps"], stage


def test_every_phase_setting_differs_from_a_real_default_and_matches_the_cards():
    for phase in recipe.RECIPE:
        if phase.stage == "cache":
            continue
        defaults = STAGE_CONFIGS[phase.stage]()
        for name, value in phase.settings.items():
            assert getattr(defaults, name) != value, (phase.name, name)  # only what differs is written
    # where the cards recorded a phase's settings, they are the recipe's (the runs ending each phase)
    runs = {stage: json.loads((zoo.CHECKPOINT_DIR / f"{card}.json").read_text())["stages"][stage]["runs"]
            for stage, card in SHIPPED_STAGES.items()}
    for row, phase in zip(recipe.plan_table(), recipe.RECIPE):
        if phase.stage == "cache":
            continue
        ending = [r for r in runs[phase.stage] if r["to_step"] == row["stage_steps_after"]]
        assert ending, phase.name  # every phase ends where a recorded run ended
        args = recipe.phase_args(phase, Path("runs"), Path("data"), row["stage_steps_after"])
        for name, recorded in ending[0].items():
            if hasattr(args, name) and name not in ("steps", "compile", "channels_last", "bf16"):
                assert getattr(args, name) == recorded, (phase.name, name)


def test_plan_json_and_the_scaled_recipes():
    out = subprocess.run([sys.executable, "-m", "ditic_lite.training", "plan", "--json"],
                         capture_output=True, text=True, check=True).stdout
    phases = json.loads(out)
    assert [(p["stage"], p["steps"]) for p in phases] == [(p.stage, p.steps) for p in recipe.RECIPE]
    gpu = recipe.gpu_recipe()
    for cpu_phase, gpu_phase in zip(recipe.RECIPE, gpu):
        if cpu_phase.stage != "cache":
            batch = cpu_phase.settings.get("batch_size", STAGE_CONFIGS[cpu_phase.stage].batch_size)
            assert gpu_phase.settings["batch_size"] == recipe.GPU_BATCH_SCALE * batch
            assert gpu_phase.steps * recipe.GPU_BATCH_SCALE >= cpu_phase.steps
    assert all(p.steps in (0, recipe.TOY_STEPS) for p in recipe.toy_recipe())
    assert recipe.recipe_hash() != recipe.recipe_hash(recipe.toy_recipe())


@pytest.mark.slow
def test_the_whole_recipe_at_toy_size(tmp_path):
    """``ditic-lite train all --toy``: every phase on the kit's sample photos, exported with cards
    that ``ditic_lite.load`` accepts and that round-trip a photo."""
    import ditic_lite
    from ditic_lite.notebook import samples_dir

    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "ditic_lite.training", "all", "--toy", "--runs", str(runs)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = {stage: 0 for stage in recipe.steps_per_stage()}
    for phase in recipe.toy_recipe():
        if phase.stage != "cache":
            expected[phase.stage] += phase.steps
    for stage, steps in expected.items():
        assert json.loads((runs / stage / "progress.json").read_text())["step"] == steps, stage
    out = runs / "checkpoints"
    card = json.loads((out / "tiny" / "rate0.json").read_text())
    assert card["recipe"]["sha256"] == recipe.recipe_hash(recipe.toy_recipe())
    assert [p["phase"] for p in card["recipe"]["phases"]] == [p.name for p in recipe.RECIPE]
    codec = ditic_lite.load("tiny", rate=0, checkpoints=out)
    photo = samples_dir() / "kite.png"
    data = codec.compress(photo)
    assert codec.decompress(data).size == (768, 512)
