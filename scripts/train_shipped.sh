#!/usr/bin/env bash
# The time-boxed run that produced the shipped tiny checkpoints on a 2-core CPU (see the model
# cards for the steps each stage reached). Every stage resumes where it stopped: rerun to go on.
# The lambdas are the ones in ditic_lite/recipe.py (RATE_LAMBDAS, LAMBDA_BASE).
# Usage: bash scripts/train_shipped.sh [DATA_DIR]   (default ../shared/data/train)
set -euo pipefail
DATA=${1:-../shared/data/train}
T="ditic-lite train"
command -v ditic-lite >/dev/null || T="python -m ditic_lite.train"
run() { $T "$@" --data "$DATA" --runs runs; }
LAMBDAS=$(python -c "from ditic_lite.recipe import RATE_LAMBDAS as r; print(*r)")
BASE=$(python -c "from ditic_lite.recipe import LAMBDA_BASE as b; print(b)")
run ae --steps 2000 --max-minutes "${AE_MIN:-32}"
run dit --steps 1500 --max-minutes "${DIT_MIN:-6}"
run warmup --steps 3000 --max-minutes "${WARMUP_MIN:-33}"
run stage1 --steps 1500 --lmbda "$BASE" --max-minutes "${S1_MIN:-25}"
i=0
for lam in $LAMBDAS; do
  run stage2 --rate-id $i --lmbda "$lam" --steps 300 --max-minutes "${S2_MIN:-5}"
  run mse --rate-id $i --lmbda "$lam" --steps 300 --max-minutes "${MSE_MIN:-2.5}"
  i=$((i + 1))
done
python -c "from pathlib import Path; from ditic_lite.recipe import export; export(Path('runs'), data=Path('$DATA'))"
