#!/usr/bin/env bash
# Continue training the tiny tier: one time-boxed run of each stage, then export to
# ditic_lite/checkpoints with measured cards. The first call copies the committed checkpoints into
# $RUNS (weights, steps and wall time per stage; the frozen encoder into $RUNS/cache); every stage
# resumes where it stopped, so rerun to go on; Ctrl-C or kill saves first (at most --save-minutes
# lost). A stage's minutes set to 0 skips it this time. The defaults are one ~100-minute session on
# 2 CPU cores:
# - the autoencoder: only its decoder once the latent cache froze the encoder (AE_MIN, default 0);
# - the latent cache: encodes the photos with the frozen encoder when it is missing or REBUILD=1;
# - then two one-thread chains in parallel: the base DiT and DiT-IC's codec stage (DIT_MIN,
#   CODEC_MIN), and the MSE baseline (MSE_MIN). Both codecs train every rate point at once.
# - then DiT-IC's pixel-space tune of its DiT and decoder LoRA (TUNE_MIN, default 20; both cores).
# Settings of each stage: ditic_lite/train_config.py (STAGE_DEFAULTS, RATE_LAMBDAS).
# Usage: bash scripts/train_shipped.sh [DATA_DIR]   (default runs/data, made by
# scripts/fetch_training_photos.py; ../shared/data/train works too, with fewer photos)
set -euo pipefail
DATA=${1:-runs/data}
RUNS=${RUNS:-runs}
T="ditic-lite train"
command -v ditic-lite >/dev/null || T="python -m ditic_lite.train"
run() {  # run MINUTES STAGE [ARGS...]
  local minutes=$1; shift
  [ "$minutes" = 0 ] || $T "$@" --data "$DATA" --runs "$RUNS" --from-shipped --max-minutes "$minutes" --steps 10000000
}
python -c "from pathlib import Path; from ditic_lite.shipping import seed_runs; seed_runs(Path('$RUNS'))"
run "${AE_MIN:-0}" ae --lr 2e-4
if [ ! -f "$RUNS/cache/index.json" ] || [ "${REBUILD:-0}" = 1 ]; then $T cache --data "$DATA" --runs "$RUNS"; fi
chain_dit() { run "${DIT_MIN:-6}" dit && run "${CODEC_MIN:-70}" codec; }
OMP_NUM_THREADS=1 chain_dit & a=$!
OMP_NUM_THREADS=1 run "${MSE_MIN:-76}" mse & b=$!
status=0  # wait for both chains, whichever fails; a failure stops the script before export
wait $a || status=$?
wait $b || status=$?
[ "$status" = 0 ] || exit "$status"
run "${TUNE_MIN:-20}" tune  # DiT-IC's pixel-space tune on the codec just trained (export needs it to match)
[ "${EXPORT:-1}" = 0 ] || python -c "from pathlib import Path; from ditic_lite.shipping import export; export(Path('$RUNS'), data=Path('$DATA'))"
