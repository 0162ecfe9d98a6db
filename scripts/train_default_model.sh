#!/usr/bin/env bash
# Reproduce the shipped world model models/husky_default.pt with one command:
#
#   scripts/train_default_model.sh            # collect -> train -> evaluate (< 15 min, 2 CPU cores)
#   scripts/train_default_model.sh --eval-set # regenerate the committed golden eval set test/data/wm_eval
#
# Training data: 140 exploration episodes of 30 s: half in random layouts (a new random arena
# with boxes and cylinders per episode, seeds 0..139), half in the built-in open, wall and
# u_trap scenarios from random start poses. The eval set uses scenarios never trained on
# (two_rooms, maze) and random layouts from seeds 900000+, which training never uses.
# Environment: WMP (the wmp executable), WORK (scratch dir), OUT (checkpoint path).
set -euo pipefail
cd "$(dirname "$0")/.."
WMP=${WMP:-.venv/bin/wmp}
[ -x "$WMP" ] || WMP=wmp

if [ "${1:-}" = "--eval-set" ]; then
    rm -rf test/data/wm_eval
    "$WMP" collect --scenario two_rooms,maze,random --episodes 9 --episode-s 14 --seed 900000 \
        --out test/data/wm_eval
    exit 0
fi

WORK=${WORK:-$(mktemp -d -t wmp_default_XXXX)}
OUT=${OUT:-models/husky_default.pt}
echo "scratch directory: $WORK"
start=$(date +%s)
"$WMP" collect --scenario random,random,random,open,wall,u_trap --episodes 140 --episode-s 30 --seed 0 \
    --workers 2 --out "$WORK/train"
# a fixed step count (no wall-clock cap), so the result does not depend on machine load
"$WMP" train --data "$WORK/train" --out "$OUT" --steps 6000 --seed 0
echo "collect + train took $(( $(date +%s) - start )) s"
"$WMP" eval-model --model "$OUT" --data test/data/wm_eval --json "$WORK/eval.json" --plots "$WORK"
echo "eval JSON: $WORK/eval.json, plot: $WORK/error_vs_horizon.png"
