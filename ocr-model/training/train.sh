#!/usr/bin/env bash
# The one command that reproduces the KTP line recogniser (CNN + CTC, ONNX for tract) and its name
# model: creates the venv, renders training and held-out line crops with render-ktp, trains with a
# fixed seed and a time budget, exports one fixed-shape ONNX per width bucket, checks it against JAX
# with onnxruntime and tract, and writes the held-out report; then trains the line model further on
# name lines alone into $OUT/names (the name model), exported and checked the same way.
#
#   bash ocr-model/training/train.sh                 # full run (< 2 h on the 2-core build machine)
#   SMOKE=1 bash ocr-model/training/train.sh         # ~10 min pipeline check, writes smoke-*.onnx
#
# Environment (all optional):
#   OUT=ocr-model/model        where the model files go (SMOKE default: target-train/smoke-model)
#   WORK=target-train          venv, rendered data, checkpoints, logs (git-ignored)
#   TRAIN_CARDS=3000           cards per tier for training (3 tiers, ~18 line crops per card)
#   HARD_CARDS=1.5*TRAIN_CARDS  training cards of the hard tier (its lines are the most varied)
#   WEBCAM_CARDS=0             training cards of the webcam tier (640 x 480: the smallest text;
#                              1500 tried on 2026-12-06, not shipped: BENCHMARKS.md)
#   VAL_CARDS=300              held-out cards per tier
#   EPOCHS=8  BUDGET_MIN=90    training stops at whichever comes first
#   NAME_EPOCHS=12 NAME_BUDGET_MIN=12 NAME_LR=5e-4
#                              the name model (step 4): the line model trained further on the
#                              training cards' name lines alone, written to $OUT/names
#   SEED=1234                  training seed (render seeds: 1 train, 2 held-out)
#   TRAIN_NAMES=mixed          names on the training cards: mixed (the shipped model), lists or wide (README)
#   DEVICES=2                  data-parallel CPU devices, one per core (README)
#   PYTHON=python3             interpreter used to create the venv (3.11 tested)
#   RENDER_KTP=path            use this render-ktp binary instead of `cargo build --release`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE=ocr-model/training
SMOKE="${SMOKE:-0}"
WORK="${WORK:-target-train}"
PYTHON="${PYTHON:-python3}"
SEED="${SEED:-1234}"
DEVICES="${DEVICES:-2}"
TRAIN_NAMES="${TRAIN_NAMES:-mixed}"
if [ "$SMOKE" = 1 ]; then
  OUT="${OUT:-$WORK/smoke-model}"
  TRAIN_CARDS="${TRAIN_CARDS:-300}"; VAL_CARDS="${VAL_CARDS:-80}"
  EPOCHS="${EPOCHS:-3}"; BUDGET_MIN="${BUDGET_MIN:-6}"
  NAME_EPOCHS="${NAME_EPOCHS:-1}"; NAME_BUDGET_MIN="${NAME_BUDGET_MIN:-1}"
  DATA="$WORK/data-smoke"; RUN="$WORK/run-smoke"; SMOKE_FLAG=--smoke
else
  OUT="${OUT:-ocr-model/model}"
  TRAIN_CARDS="${TRAIN_CARDS:-3000}"; VAL_CARDS="${VAL_CARDS:-300}"
  EPOCHS="${EPOCHS:-8}"; BUDGET_MIN="${BUDGET_MIN:-90}"
  NAME_EPOCHS="${NAME_EPOCHS:-12}"; NAME_BUDGET_MIN="${NAME_BUDGET_MIN:-12}"
  DATA="$WORK/data"; RUN="$WORK/run"; SMOKE_FLAG=
fi
HARD_CARDS="${HARD_CARDS:-$(( TRAIN_CARDS * 3 / 2 ))}"
NAME_LR="${NAME_LR:-5e-4}"
WEBCAM_CARDS="${WEBCAM_CARDS:-0}"
start=$(date +%s)
say() { echo "[train.sh $(( $(date +%s) - start ))s] $*"; }

# 1. Python environment (pinned; CPU only).
VENV="$WORK/venv"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.txt"; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.requirements.txt"
fi

# 2. Render line crops (deterministic in seed, index, tier and font split).
if [ -n "${RENDER_KTP:-}" ]; then
  RENDER="$RENDER_KTP"   # a render-ktp binary built elsewhere
else
  say "building render-ktp"
  cargo build --release --quiet -p ocr-model --no-default-features --features synth --bin render-ktp
  RENDER="${CARGO_TARGET_DIR:-target}/release/render-ktp"
fi
render() { # dir count seed tier fonts names
  if [ -f "$1/lines.tsv" ] && [ -f "$1/.done-$2-$6" ]; then return; fi
  rm -rf "$1"
  "$RENDER" --out "$1" --count "$2" --seed "$3" --tier "$4" --fonts "$5" --names "$6" --lines
  touch "$1/.done-$2-$6"
}
TRAIN_DIRS=(); VAL_DIRS=()
for tier in scan photo hard webcam; do
  n="$TRAIN_CARDS"; [ "$tier" = hard ] && n="$HARD_CARDS"; [ "$tier" = webcam ] && n="$WEBCAM_CARDS"
  [ "$n" = 0 ] && continue
  say "rendering $n training cards, tier $tier"
  render "$DATA/train-$tier" "$n" 1 "$tier" train "$TRAIN_NAMES"
  TRAIN_DIRS+=("$DATA/train-$tier")
  say "rendering $VAL_CARDS held-out cards, tier $tier"
  render "$DATA/val-$tier" "$VAL_CARDS" 2 "$tier" heldout lists
  VAL_DIRS+=("$DATA/val-$tier")
done

# 3. Train, export, check, report.
say "training (epochs $EPOCHS, budget $BUDGET_MIN min)"
"$VENV/bin/python" "$HERE/train.py" --train "${TRAIN_DIRS[@]}" --val "${VAL_DIRS[@]}" \
  --work "$RUN" --out "$OUT" --epochs "$EPOCHS" --budget-min "$BUDGET_MIN" --seed "$SEED" \
  --devices "$DEVICES" $SMOKE_FLAG
say "line model done: $OUT, report in $RUN/report.md, log in $RUN/train.log"

# 4. The name model: the line model trained further on name lines alone (its batch norm frozen),
#    asked by the reader about every name line the line model reads in doubt.
say "training the name model (epochs $NAME_EPOCHS, budget $NAME_BUDGET_MIN min)"
"$VENV/bin/python" "$HERE/train.py" --train "${TRAIN_DIRS[@]}" --val "${VAL_DIRS[@]}" \
  --work "$RUN-names" --out "$OUT/names" --epochs "$NAME_EPOCHS" --budget-min "$NAME_BUDGET_MIN" \
  --lr "$NAME_LR" --seed "$SEED" --devices "$DEVICES" --keys name --init-from "$OUT" $SMOKE_FLAG
say "done: models in $OUT and $OUT/names, reports in $RUN/report.md and $RUN-names/report.md"
du -ch "$OUT"/*.onnx "$OUT"/names/*.onnx | tail -1
