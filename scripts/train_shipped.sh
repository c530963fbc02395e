#!/usr/bin/env bash
# Continue training the shipped tiny checkpoints: one time-boxed run of each stage, then export to
# ditic_lite/checkpoints with measured cards. The first call copies the committed checkpoints into
# $RUNS (weights, steps and wall time per stage); every stage resumes where it stopped, so rerun to
# go on; Ctrl-C or kill saves first (at most --save-minutes lost). A stage's minutes set to 0 skips
# it this time. The defaults are one ~2-hour session on 2 CPU cores:
# - the autoencoder (the quality ceiling) and the base DiT, on both cores;
# - the codec warm-up only where stage 1 has no weights yet (WARMUP_MIN): a continued stage 1
#   starts from its own codec, so a warm-up run then changes nothing;
# - stage 1 on both cores, then each rate point of stage 2 and of the MSE baseline in two parallel
#   one-thread chains (PARALLEL=0: one after the other). Stage 2 and the baseline take stage 1's
#   shared context model and auxiliary encoder, so they follow stage 1.
# Which stages use bf16 / channels_last: ditic_lite/train_config.py (STAGE_DEFAULTS, from
# data/results/training_speed.csv). AE_FLAGS=--freeze-encoder trains the decoder alone and keeps the
# latent space, but in our runs it drifted colours on held-out photos: see issue 14's notes.
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
python -c "from pathlib import Path; from ditic_lite.shipping import seed_runs; seed_runs(Path('$RUNS'))"
run "${AE_MIN:-30}" ae --lr 2e-4 ${AE_FLAGS-}
run "${DIT_MIN:-5}" dit
if [ -f "$RUNS/stage1/model.safetensors" ]; then WARMUP_DEFAULT=0; else WARMUP_DEFAULT=12; fi
run "${WARMUP_MIN:-$WARMUP_DEFAULT}" warmup
run "${S1_MIN:-40}" stage1 --lmbda "$BASE"
rate_chain() {  # rate_chain STAGE MINUTES: every rate point in turn
  local stage=$1 minutes=$2 i=0
  for lam in $LAMBDAS; do
    run "$minutes" "$stage" --rate-id $i --lmbda "$lam"
    i=$((i + 1))
  done
}
if [ "${PARALLEL:-1}" = 1 ]; then
  OMP_NUM_THREADS=1 rate_chain stage2 "${S2_MIN:-10}" & s2=$!
  OMP_NUM_THREADS=1 rate_chain mse "${MSE_MIN:-10}" & mse=$!
  status=0  # wait for both chains, whichever fails; a failure stops the script before export
  wait $s2 || status=$?
  wait $mse || status=$?
  [ "$status" = 0 ] || exit "$status"
else
  rate_chain stage2 "${S2_MIN:-6}"
  rate_chain mse "${MSE_MIN:-4}"
fi
[ "${EXPORT:-1}" = 0 ] || python -c "from pathlib import Path; from ditic_lite.shipping import export; export(Path('$RUNS'), data=Path('$DATA'))"
