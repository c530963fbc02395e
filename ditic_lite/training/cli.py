"""``ditic-lite train``: one stage, the latent cache, the whole recipe, or its plan.

    ditic-lite train ae|dit|codec|mse|tune|realism [--SETTING VALUE ...]   # one stage, resumable
    ditic-lite train cache      # freeze the encoder for good; encode the photos into the latent cache
    ditic-lite train all        # the recipe of the shipped checkpoints (recipe.py), then export
    ditic-lite train plan       # print that recipe (--json: a list of phases)

The options are built from the fields of the stage configs (:mod:`.config`): each option's help
text and defaults come from there, so a new setting needs no change here.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from .config import TrainArgs
from .stages import STAGE_CONFIGS, stage_config


def _parse_floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def setting_options() -> dict[str, dict[str, Any]]:
    """Every setting of every stage config: its help text, type, and default per stage."""
    options: dict[str, dict[str, Any]] = {}
    for config in STAGE_CONFIGS.values():
        for f in fields(config):
            option = options.setdefault(f.name, {"help": "", "defaults": {}})
            option["help"] = option["help"] or f.metadata.get("help", "")
            if not option["help"]:  # redefined in a stage config without a help text: the base class's
                option["help"] = TrainArgs.__dataclass_fields__[f.name].metadata.get("help", "")
            option["defaults"][config.stage] = f.default if f.default is not MISSING else None
    return options


def _describe_defaults(defaults: dict[str, Any]) -> str:
    values = {json.dumps(v.__str__() if isinstance(v, Path) else v) for v in defaults.values()}
    if len(defaults) == len(STAGE_CONFIGS) and len(values) == 1:
        return f"default {next(iter(defaults.values()))}"
    return "; ".join(f"{stage} {value}" for stage, value in defaults.items())


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the tiny tier: a stage, the latent cache, the whole recipe",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=[*STAGE_CONFIGS, "cache", "all", "plan"])
    settings = p.add_argument_group("settings (the stage configs' fields: ditic_lite/training/config.py)")
    for name, option in setting_options().items():
        default = next(iter(option["defaults"].values()))
        flag, text = "--" + name.replace("_", "-"), f"{option['help']} ({_describe_defaults(option['defaults'])})"
        if isinstance(default, bool):
            settings.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(default, tuple):
            settings.add_argument(flag, dest=name, type=_parse_floats, default=None, help=text + ", comma-separated")
        else:
            settings.add_argument(flag, dest=name, type=type(default), default=None, help=text)
    p.add_argument("--from-shipped", action="store_true", dest="from_shipped",
                   help="first copy the committed checkpoints into --runs (stages already there are kept)")
    p.add_argument("--toy", action="store_true",
                   help="all: every phase a few steps at batch 1 on the kit's sample photos; exports to RUNS/checkpoints")
    p.add_argument("--out", type=Path, help="all: where the export goes (default: the kit's checkpoints; "
                                            "--toy: RUNS/checkpoints)")
    p.add_argument("--minutes", type=float, help="all: a time budget shared over the phases in proportion to "
                                                 "their steps (with --from-shipped: scripts/train_shipped.sh)")
    p.add_argument("--json", action="store_true", help="plan: print the phases as JSON")
    p.set_defaults(func=_cmd_train)


def parse_train_args(ns: argparse.Namespace) -> TrainArgs:
    """``ditic-lite train STAGE ...``: the options given, over the stage config's defaults."""
    given = {f.name: getattr(ns, f.name) for f in fields(STAGE_CONFIGS[ns.stage])
             if getattr(ns, f.name, None) is not None}
    refused = [name for name, option in setting_options().items()
               if getattr(ns, name, None) is not None and ns.stage not in option["defaults"]]
    if refused:
        raise ValueError(f"stage {ns.stage} has no setting " + ", ".join("--" + n.replace("_", "-") for n in refused))
    return stage_config(ns.stage, **given)


def _cmd_train(ns: argparse.Namespace) -> int:
    from .pipeline import train_all
    from .recipe import RECIPE, format_plan, plan_table

    if ns.stage == "plan":
        print(json.dumps(plan_table(RECIPE), indent=1) if ns.json else format_plan(RECIPE))
        return 0
    runs = Path(ns.runs) if ns.runs is not None else TrainArgs.runs
    if ns.from_shipped and ns.stage != "all":
        from .export import seed_runs
        for stage in seed_runs(runs):
            print(f"{stage}: continues from the shipped checkpoint")
    if ns.stage == "all":
        if ns.toy and ns.data is None:
            from ..notebook import samples_dir
            ns.data = samples_dir()
        data = Path(ns.data) if ns.data is not None else TrainArgs.data
        cards = train_all(runs, data, seed=ns.seed or 0, cpu=bool(ns.cpu), toy=ns.toy, out=ns.out,
                          from_shipped=ns.from_shipped, minutes=ns.minutes)
        print(f"exported {len(cards)} rate points")
        return 0
    if ns.stage == "cache":
        from .loop import make_cache
        make_cache(runs, Path(ns.data) if ns.data is not None else TrainArgs.data)
        return 0
    from .loop import train
    try:
        args = parse_train_args(ns)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = train(args)
    print(json.dumps({k: summary[k] for k in ("stage", "steps", "final_losses")}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ditic_lite.training STAGE ...`` (what torchrun starts: ``torchrun --nproc_per_node 2
    -m ditic_lite.training codec ...``)."""
    parser = argparse.ArgumentParser(prog="python -m ditic_lite.training")
    add_cli(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    return ns.func(ns)
