#!/usr/bin/env bash
# Continue training the shipped tiny checkpoints: one time-boxed run of each stage, then export to
# ditic_lite/checkpoints with measured cards. The first call copies the committed checkpoints into
# $RUNS (--from-shipped: weights, steps and wall time per stage); every stage resumes where it
# stopped, so rerun to go on; Ctrl-C or kill saves first (at most --save-minutes lost).
# A stage's minutes set to 0 skips it this time. The defaults are one ~2-hour session on 2 CPU
# cores: the autoencoder first (the quality ceiling), then every later stage re-fitted to its new
# latent space (base DiT, codec warm-up, stage 1, each rate point and MSE baseline).
# AE_FLAGS=--freeze-encoder trains the decoder alone and keeps the latent space (the later stages
# then stay valid), but in our runs it drifted colours on held-out photos: see issue 14's notes.
# Lambdas: ditic_lite/train_config.py (RATE_LAMBDAS, LAMBDA_BASE).
# Usage: bash scripts/train_shipped.sh [DATA_DIR]   (default ../shared/data/train)
set -euo pipefail
DATA=${1:-../shared/data/train}
RUNS=${RUNS:-runs}
T="ditic-lite train"
command -v ditic-lite >/dev/null || T="python -m ditic_lite.train"
run() {  # run MINUTES STAGE [ARGS...]
  local minutes=$1; shift
  [ "$minutes" = 0 ] || $T "$@" --data "$DATA" --runs "$RUNS" --from-shipped --max-minutes "$minutes" --steps 10000000
}
LAMBDAS=$(python -c "from ditic_lite.train_config import RATE_LAMBDAS as r; print(*r)")
BASE=$(python -c "from ditic_lite.train_config import LAMBDA_BASE as b; print(b)")
run "${AE_MIN:-30}" ae --lr 2e-4 ${AE_FLAGS-}
run "${DIT_MIN:-5}" dit
run "${WARMUP_MIN:-12}" warmup
run "${S1_MIN:-18}" stage1 --lmbda "$BASE"
i=0
for lam in $LAMBDAS; do
  run "${S2_MIN:-3.5}" stage2 --rate-id $i --lmbda "$lam"
  run "${MSE_MIN:-2}" mse --rate-id $i --lmbda "$lam"
  i=$((i + 1))
done
[ "${EXPORT:-1}" = 0 ] || python -c "from pathlib import Path; from ditic_lite.shipping import export; export(Path('$RUNS'), data=Path('$DATA'))"
