#!/usr/bin/env bash
# Reproduce the shipped camera world model models/husky_camera.pt (camera only: 64x64 RGB, no
# lidar; its learned latent reads the frame alone, --h-sensors-only, so that it says what the robot
# sees and a goal picture taken at rest compares with a frame seen while driving) and its held-out
# evaluation, with one command:
#
#   scripts/train_camera_model.sh          # collect -> train -> evaluate (about 7 min on the 2-core machine)
#
# Training data (seeds 0..59): 60 episodes x 20 s with camera frames, cycling through random
# layouts and the built-in open, wall and u_trap. Held-out set (seeds 900000..900008): 9 episodes
# x 20 s in two_rooms, maze and random layouts, none of which training sees.
#
# Environment: WMP (the wmp executable), WORK (scratch dir for the data), OUT (checkpoint path,
# default models/husky_camera.pt), BUDGET_S (training wall seconds, default 900), DEVICE (auto | cpu
# | cuda), THREADS (torch CPU threads, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
WMP=${WMP:-.venv/bin/wmp}
[ -x "$WMP" ] || WMP=wmp
WORK=${WORK:-$(mktemp -d)}
OUT=${OUT:-models/husky_camera.pt}
BUDGET_S=${BUDGET_S:-900}
DEVICE=${DEVICE:-auto}
THREADS=${THREADS:-1}

[ -d "$WORK/train" ] || "$WMP" collect --scenario random,open,wall,u_trap --episodes 60 --episode-s 20 --image \
    --seed 0 --out "$WORK/train"
[ -d "$WORK/eval" ] || "$WMP" collect --scenario two_rooms,maze,random --episodes 9 --episode-s 20 --image \
    --seed 900000 --out "$WORK/eval"
"$WMP" train --data "$WORK/train" --out "$OUT" --camera-only --h-sensors-only --batch-size 32 --horizon 10 \
    --steps 1500 --eval-every 200 --time-budget-s "$BUDGET_S" --device "$DEVICE" --threads "$THREADS"
"$WMP" eval-model --model "$OUT" --data "$WORK/eval" --json "$WORK/eval.json"
echo "data and evaluation in $WORK"
