#!/usr/bin/env bash
# Reproduce the shipped world model models/<robot>_default.pt and the classic_id fit
# models/<robot>_sysid.json with one command (ROBOT: husky (default), jackal or turtlebot4):
#
#   scripts/train_default_model.sh                   # collect -> train -> sysid -> evaluate (< 25 min, 2 CPU cores)
#   ROBOT=jackal scripts/train_default_model.sh      # the same for the Jackal: models/jackal_default.pt
#   scripts/train_default_model.sh --eval-set        # regenerate the committed golden eval set test/data/wm_eval
#   ROBOT=turtlebot4 scripts/train_default_model.sh --eval-set   # its held-out set test/data/wm_eval_turtlebot4
#   ROBOT=jackal scripts/train_default_model.sh --sysid          # collect the same training data, refit only models/jackal_sysid.json
#   ROBOT=jackal BARN=../shared/barn/more scripts/train_default_model.sh   # also explore BARN worlds numbered below 200
#
# Every collection drives ROBOT (wmp collect --robot) in place of the scenarios' own robot, and the
# data record it, so the checkpoint knows its robot (data_stats.robots); a learned planner refuses a
# checkpoint trained on another robot.
#
# Training data (seeds 0..), 30 s exploration episodes:
#   static   140 episodes: half random layouts (a new arena with boxes and cylinders per episode),
#            half the built-in open, wall and u_trap from random start poses;
#   dynamic  100 episodes with random dynamics (wmp collect --dynamics: terrain patches of ice,
#            wet tiles, grass, mud or gravel, payload 0-150 kg, latency 0-0.2 s, 0-5 people and
#            carts) on random layouts and open/wall/u_trap, plus the dynamics-suite scenarios
#            ice_bend, mud_field, heavy_stop and crossing (their own ground and people).
#   rooms    ROOMS_EPISODES (default 0) episodes in `random_rooms` layouts (an arena cut by 1-2
#            walls with 0.8-2.0 m doors; seeds 4000..): walls, doorways and corners.
#   mud      MUD_EPISODES (default 0) more episodes of the dynamics suite's mud_field (seeds 5000..):
#            stalls in deep ground, which the other data show rarely.
#   BARN     with BARN=DIR (a folder of BARN world_N.world[.gz] files), 1
#            episode in each of the first BARN_EPISODES (default 120) worlds numbered below
#            BARN_BELOW (default 200; seeds 3000..): dense fields of 0.075 m cylinders, imported as
#            `wmp import-world --barn` does, from random start poses. Worlds numbered BARN_BELOW and
#            above are never trained on: the BARN figures are measured on them.
# Second stage (FINETUNE=1; off by default, and no shipped model uses it): once the model above
# is trained, TUNE_ROOMS_EPISODES (default 80) `random_rooms` episodes (seeds 4000..) and
# TUNE_MUD_EPISODES (default 40) mud_field episodes (seeds 5000..) join the data, and the
# predictor alone trains TUNE_STEPS (default 2000) more steps on all of it, mirrored, at TUNE_LR
# (default 5e-4); the encoder and the heads stay as trained (wmp train --init --train-only
# predictor --mirror). The README's World model section measures this candidate for the Husky.
# classic_id (wmp sysid) is fitted on the same training data as the world model (both stages).
# The eval set holds out layouts, scenarios and seeds: two_rooms, maze and random layouts from
# seeds 900000+ (static, as before), the same with random dynamics from seeds 910000+, and the
# dynamics-suite scenarios ramp_door, walkers and cart_door, none of which training uses.
#
# Environment: ROBOT (husky | jackal | turtlebot4), WMP (the wmp executable), WORK (scratch dir),
# OUT (checkpoint path, default models/$ROBOT_default.pt), SYSID_OUT (classic_id fit, default
# models/$ROBOT_sysid.json), EVAL (held-out set, default test/data/wm_eval for the Husky and
# test/data/wm_eval_$ROBOT otherwise; made first when missing), DEVICE (auto | cpu | cuda), THREADS
# (torch CPU threads), WORKERS (collection processes, default 2), STEPS (training steps, default 6000),
# MIRROR (0, the default: the recorded episodes only, as every shipped first stage was trained; 1: also
# train on every episode mirrored across the robot's heading, `wmp train --mirror`),
# ROOMS_EPISODES, MUD_EPISODES, BARN, BARN_EPISODES and BARN_BELOW (above), FINETUNE,
# TUNE_ROOMS_EPISODES, TUNE_MUD_EPISODES, TUNE_STEPS and TUNE_LR (the second stage, above).
set -euo pipefail
cd "$(dirname "$0")/.."
WMP=${WMP:-.venv/bin/wmp}
[ -x "$WMP" ] || WMP=wmp
WORKERS=${WORKERS:-2}
STATIC_EPISODES=${STATIC_EPISODES:-140}
DYNAMIC_EPISODES=${DYNAMIC_EPISODES:-80}
SUITE_EPISODES=${SUITE_EPISODES:-20}
ROBOT=${ROBOT:-husky}
case "$ROBOT" in
    husky|jackal|turtlebot4) ;;
    *) echo "ROBOT=$ROBOT: expected husky, jackal or turtlebot4" >&2; exit 2 ;;
esac
if [ "$ROBOT" = husky ]; then EVAL=${EVAL:-test/data/wm_eval}; else EVAL=${EVAL:-test/data/wm_eval_$ROBOT}; fi
FINETUNE=${FINETUNE:-0}
case "$FINETUNE" in
    0|1) ;;
    *) echo "FINETUNE=$FINETUNE: expected 1 or 0" >&2; exit 2 ;;
esac
if [ "$FINETUNE" = 1 ] && { [ "${ROOMS_EPISODES:-0}" -gt 0 ] || [ "${MUD_EPISODES:-0}" -gt 0 ]; }; then
    echo "ROOMS_EPISODES/MUD_EPISODES add rooms and mud to the first stage's data, and FINETUNE=1 adds the same" \
         "episodes after it: set FINETUNE=0 to train on them from the start" >&2
    exit 2
fi

stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }
start=$(date +%s)

eval_set() {
    rm -rf "$EVAL"
    "$WMP" collect --robot "$ROBOT" --scenario two_rooms,maze,random --episodes 9 --episode-s 14 --seed 900000 \
        --workers "$WORKERS" --out "$EVAL"
    "$WMP" collect --robot "$ROBOT" --scenario two_rooms,maze,random --dynamics --episodes 6 --episode-s 14 \
        --seed 910000 --workers "$WORKERS" --out "$EVAL"
    "$WMP" collect --robot "$ROBOT" --scenario ramp_door,walkers,cart_door --episodes 3 --episode-s 14 \
        --seed 920000 --workers "$WORKERS" --out "$EVAL"
    stamp "$ROBOT eval set written to $EVAL"
}

if [ "${1:-}" = "--eval-set" ]; then
    eval_set
    exit 0
fi
case "${1:-}" in
    ""|--sysid) ;;
    *) echo "usage: [ROBOT=...] $0 [--eval-set | --sysid]" >&2; exit 2 ;;
esac

WORK=${WORK:-$(mktemp -d -t wmp_default_XXXX)}
OUT=${OUT:-models/${ROBOT}_default.pt}
SYSID_OUT=${SYSID_OUT:-models/${ROBOT}_sysid.json}
[ -d "$EVAL" ] || eval_set
TRAIN_ARGS=(--steps "${STEPS:-6000}" --seed 0 --device "${DEVICE:-auto}")
[ -n "${THREADS:-}" ] && TRAIN_ARGS+=(--threads "$THREADS")
case "${MIRROR:-0}" in
    1) TRAIN_ARGS+=(--mirror) ;;
    0) ;;
    *) echo "MIRROR=$MIRROR: expected 1 or 0" >&2; exit 2 ;;
esac
echo "robot: $ROBOT; scratch directory: $WORK"
"$WMP" collect --robot "$ROBOT" --scenario random,random,random,open,wall,u_trap --episodes "$STATIC_EPISODES" --episode-s 30 --seed 0 \
    --workers "$WORKERS" --out "$WORK/train"
stamp "static data collected"
"$WMP" collect --robot "$ROBOT" --scenario random,random,open,wall,u_trap --dynamics --episodes "$DYNAMIC_EPISODES" --episode-s 30 --seed 1000 \
    --workers "$WORKERS" --out "$WORK/train"
"$WMP" collect --robot "$ROBOT" --scenario ice_bend,mud_field,heavy_stop,crossing --episodes "$SUITE_EPISODES" --episode-s 30 --seed 2000 \
    --workers "$WORKERS" --out "$WORK/train"
stamp "dynamic data collected"
if [ "${ROOMS_EPISODES:-0}" -gt 0 ]; then
    "$WMP" collect --robot "$ROBOT" --scenario random_rooms --episodes "$ROOMS_EPISODES" --episode-s 30 --seed 4000 \
        --workers "$WORKERS" --out "$WORK/train/rooms"
    stamp "rooms data collected"
fi
if [ "${MUD_EPISODES:-0}" -gt 0 ]; then
    "$WMP" collect --robot "$ROBOT" --scenario mud_field --episodes "$MUD_EPISODES" --episode-s 30 --seed 5000 \
        --workers "$WORKERS" --out "$WORK/train/mud"
    stamp "mud data collected"
fi
if [ -n "${BARN:-}" ]; then
    BARN_EPISODES=${BARN_EPISODES:-120}
    BARN_BELOW=${BARN_BELOW:-200}
    [ -d "$BARN" ] || { echo "BARN=$BARN: not a folder of BARN world files" >&2; exit 2; }
    mkdir -p "$WORK/barn_worlds"
    worlds=()
    for n in $(find "$BARN" -maxdepth 1 -name 'world_*.world*' | sed -n 's/.*world_\([0-9]*\)\.world\(\.gz\)\{0,1\}$/\1/p' \
               | sort -n -u | awk -v below="$BARN_BELOW" '$1 < below' | head -n "$BARN_EPISODES"); do
        f=$(find "$BARN" -maxdepth 1 \( -name "world_$n.world" -o -name "world_$n.world.gz" \) | head -n 1)
        "$WMP" import-world "$f" --barn --robot "$ROBOT" --out "$WORK/barn_worlds/barn_$n.yaml" \
            >/dev/null 2>"$WORK/barn_worlds/import.log" || { cat "$WORK/barn_worlds/import.log" >&2; exit 1; }
        worlds+=("$WORK/barn_worlds/barn_$n.yaml")
    done
    [ "${#worlds[@]}" -gt 0 ] || { echo "BARN=$BARN: no world_N.world[.gz] numbered below $BARN_BELOW" >&2; exit 2; }
    list=$(IFS=,; echo "${worlds[*]}")
    "$WMP" collect --robot "$ROBOT" --scenario "$list" --episodes "${#worlds[@]}" --episode-s 30 --seed 3000 \
        --workers "$WORKERS" --out "$WORK/train/barn"
    stamp "BARN data collected (${#worlds[@]} worlds below $BARN_BELOW)"
fi
collect_tune() {
    "$WMP" collect --robot "$ROBOT" --scenario random_rooms --episodes "${TUNE_ROOMS_EPISODES:-80}" --episode-s 30 \
        --seed 4000 --workers "$WORKERS" --out "$WORK/train/rooms"
    "$WMP" collect --robot "$ROBOT" --scenario mud_field --episodes "${TUNE_MUD_EPISODES:-40}" --episode-s 30 \
        --seed 5000 --workers "$WORKERS" --out "$WORK/train/mud"
    stamp "rooms and mud data collected (second stage)"
}
if [ "${1:-}" = "--sysid" ]; then
    [ "$FINETUNE" = 1 ] && collect_tune
    "$WMP" sysid --data "$WORK/train" --out "$SYSID_OUT"
    stamp "classic_id fitted: $SYSID_OUT"
    exit 0
fi
# a fixed step count (no wall-clock cap), so the result does not depend on machine load
if [ "$FINETUNE" = 1 ]; then
    "$WMP" train --data "$WORK/train" --out "$WORK/base.pt" "${TRAIN_ARGS[@]}"
    stamp "first stage trained: $WORK/base.pt"
    collect_tune
    TUNE_ARGS=(--init "$WORK/base.pt" --train-only predictor --mirror --lr "${TUNE_LR:-5e-4}"
               --steps "${TUNE_STEPS:-2000}" --seed 0 --device "${DEVICE:-auto}")
    [ -n "${THREADS:-}" ] && TUNE_ARGS+=(--threads "$THREADS")
    "$WMP" train --data "$WORK/train" --out "$OUT" "${TUNE_ARGS[@]}"
else
    "$WMP" train --data "$WORK/train" --out "$OUT" "${TRAIN_ARGS[@]}"
fi
stamp "world model trained: $OUT"
"$WMP" sysid --data "$WORK/train" --out "$SYSID_OUT"
stamp "classic_id fitted: $SYSID_OUT"
"$WMP" eval-model --model "$OUT" --data "$EVAL" --sysid "$SYSID_OUT" --device "${DEVICE:-auto}" \
    --json "$WORK/eval.json" --plots "$WORK"
stamp "evaluated; eval JSON: $WORK/eval.json, plot: $WORK/error_vs_horizon.png"
