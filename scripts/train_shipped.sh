#!/usr/bin/env bash
# Continue training the tiny tier on a CPU: the recipe of the shipped checkpoints
# (ditic_lite/training/recipe.py, `ditic-lite train plan`) once more, every phase continuing from
# the committed checkpoints and time-boxed to its share of MINUTES (default 100: one session on
# 2 cores), then the export to ditic_lite/checkpoints with measured model cards. The first call
# copies the committed checkpoints into $RUNS (weights, steps and wall time per stage; the frozen
# encoder into $RUNS/cache); every phase resumes where it stopped, so rerun to go on; Ctrl-C or
# kill saves first (at most --save-minutes lost).
# Usage: bash scripts/train_shipped.sh [DATA_DIR]   (default runs/data, made by
# scripts/fetch_training_photos.py; ../shared/data/train works too, with fewer photos)
set -euo pipefail
DATA=${1:-runs/data}
RUNS=${RUNS:-runs}
T="ditic-lite train"
command -v ditic-lite >/dev/null || T="python -m ditic_lite.training"
$T all --from-shipped --minutes "${MINUTES:-100}" --data "$DATA" --runs "$RUNS"
