#!/usr/bin/env bash
# The tiny-tier recipe on one GPU (H200-class), continuing from the shipped checkpoints: every
# phase of the recipe (ditic_lite/training/recipe.py, gpu_recipe: 4x the batch for 4x fewer steps)
# gets its share of GPU_MINUTES (default 5) of training (the same training code as on a CPU),
# then export with measured model cards. Writes to OUT_DIR:
# summary.json, checkpoints.tar.part-* (the new ditic_lite/checkpoints, split into <= 15 MB parts:
#   cat OUT_DIR/checkpoints.tar.part-* | tar -xf - -C ditic_lite   to install them) and, unless
# BENCH=0, bench.json from `ditic-lite bench --device cuda` on the official architecture.
# About 5 + 2 (export) + 2 (bench) minutes on an H200. On a machine without network, the packages
# it lacks come from .gpu/wheels and the photos from .gpu/data (python scripts/gpu_bundle.py).
# Toy check on a CPU: TOY=1 GPU_MINUTES=100 BENCH=0 bash scripts/train_gpu.sh /tmp/toy DATA_DIR
# With the device tool: python scripts/gpu_bundle.py here, then run(command="bash scripts/train_gpu.sh
# $OUT", carry=[".gpu"], timeout_s=590); install the parts it brings back as above.
# Usage: bash scripts/train_gpu.sh OUT_DIR [DATA_DIR]   (default .gpu/data, else ../shared/data/train)
set -euo pipefail
OUT=${1:?usage: bash scripts/train_gpu.sh OUT_DIR [DATA_DIR]}
DATA=${2:-.gpu/data}
[ -d "$DATA" ] || DATA=../shared/data/train
if ! python3 -c "import diffusers, compressai, pytorch_msssim" 2>/dev/null && [ -d .gpu/wheels ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/wheels/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
WORK=${WORK:-$(mktemp -d)}  # runs/ and checkpoints/ (too many files to bring back through $OUT)
mkdir -p "$OUT"
python3 -c "import sys; from pathlib import Path; from ditic_lite.training.pipeline import train_gpu; \
train_gpu(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), toy=sys.argv[4] != '0')" \
  "$WORK" "$DATA" "${GPU_MINUTES:-5}" "${TOY:-0}"
cp "$WORK/summary.json" "$OUT/"
tar -cf - -C "$WORK" checkpoints | split -b 15m - "$OUT/checkpoints.tar.part-"
if [ "${BENCH:-1}" != 0 ]; then
  python3 -m ditic_lite.cli bench --device cuda --dtype fp32,bf16 --out "$OUT/bench.json"
fi
