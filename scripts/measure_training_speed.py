"""Seconds per training step of every stage, fp32 against bf16 autocast: ``data/results/training_speed.csv``.

Each row continues a copy of the shipped checkpoints for ``--steps`` steps at the stage's default
batch and crop (the stage configs of ``ditic_lite.training.config``) and records the median step time (the first
step left out). ``--layout 2x1`` runs two gloo processes of one thread through torchrun; the
default, ``1xN``, one process with the threads torch uses (set OMP_NUM_THREADS). Rows are appended,
so layouts measured at different times share one table; ``note`` says what else ran meanwhile.

    OMP_NUM_THREADS=2 python scripts/measure_training_speed.py --note "quiet machine"
    python scripts/measure_training_speed.py --layout 2x1 --note "quiet machine"
    python scripts/measure_training_speed.py --stages ae,codec --precisions bf16 --channels-last
    python scripts/measure_training_speed.py --stages ae,codec --precisions bf16 --compile

The stages on the latent cache (dit, codec, mse) get one first (``ditic-lite train cache``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditic_lite.training.export import hardware, seed_runs  # noqa: E402
from ditic_lite.training.loop import make_cache, train  # noqa: E402
from ditic_lite.training.runs import RunFolder  # noqa: E402
from ditic_lite.training.stages import STAGE_CONFIGS, STAGE_STEPS, stage_config  # noqa: E402

OUT = ROOT / "data" / "results" / "training_speed.csv"


def run_stage(stage: str, bf16: bool, runs: Path, data: Path, steps: int, layout: str,
              channels_last: bool = False, compile: bool = False) -> dict:
    folder = RunFolder(runs)
    done = folder.step(stage)
    if layout == "2x1":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "ditic_lite.training",
               stage, "--data", str(data), "--runs", str(runs), "--steps", str(done + steps), "--cpu",
               "--bf16" if bf16 else "--no-bf16", "--channels-last" if channels_last else "--no-channels-last",
               "--compile" if compile else "--no-compile"]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        summary = json.loads(folder.summary_file(stage).read_text())
    else:
        summary = train(stage_config(stage, data=data, runs=runs, steps=done + steps, bf16=bf16,
                                            channels_last=channels_last, compile=compile, validate_minutes=0))
    run = summary["runs"][-1]
    return {"stage": stage, "bf16": bf16, "channels_last": channels_last, "compile": compile, "processes": run["processes"], "threads": run["threads"],
            "batch_size": run["batch_size"], "crop": run["crop"],
            "seconds_per_step": round(run["seconds_per_step"], 4), "steps_measured": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    parser.add_argument("--stages", default=",".join(STAGE_CONFIGS))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--layout", choices=["1xN", "2x1"], default="1xN")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma list of fp32, bf16")
    parser.add_argument("--channels-last", action="store_true", dest="channels_last")
    parser.add_argument("--compile", action="store_true", help="torch.compile the trained module")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            bf16 = {"fp32": False, "bf16": True}[precision]
            runs = Path(tmp) / f"runs_{precision}"
            seed_runs(runs)
            if any(STAGE_STEPS[stage].uses_cache for stage in args.stages.split(",")):
                make_cache(runs, args.data, progress=False)
            for stage in args.stages.split(","):
                row = run_stage(stage, bf16, runs, args.data, args.steps, args.layout, args.channels_last, args.compile)
                rows.append({**row, "hardware": hardware(), "note": args.note})
                print(row, flush=True)
    table = pd.concat([pd.read_csv(OUT), pd.DataFrame(rows)]) if OUT.exists() else pd.DataFrame(rows)
    table.to_csv(OUT, index=False)
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
