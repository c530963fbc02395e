#!/usr/bin/env bash
# The time-boxed run that produced the shipped tiny checkpoints on a 2-core CPU (see the model
# cards for the steps each stage reached). Every stage resumes where it stopped: rerun to go on.
# Usage: bash scripts/train_shipped.sh [DATA_DIR]   (default ../shared/data/train)
set -euo pipefail
DATA=${1:-../shared/data/train}
T="ditic-lite train"
command -v ditic-lite >/dev/null || T="python -m ditic_lite.train"
run() { $T "$@" --data "$DATA" --runs runs; }
run ae --steps 2000 --max-minutes "${AE_MIN:-35}"
run dit --steps 1500 --max-minutes "${DIT_MIN:-10}"
run stage1 --steps 1500 --lmbda 0.025 --max-minutes "${S1_MIN:-28}"
i=0
for lam in 0.4 0.15 0.06 0.025; do
  run stage2 --rate-id $i --lmbda $lam --steps 300 --max-minutes "${S2_MIN:-4}"
  run mse --rate-id $i --lmbda $lam --steps 300 --max-minutes "${MSE_MIN:-3}"
  i=$((i + 1))
done
python -c "from pathlib import Path; from ditic_lite.recipe import export; export(Path('runs'), data=Path('$DATA'))"
