#!/usr/bin/env bash
# Create .venv and install pinned dependencies. The ROS 2 wheels (requirements-ros.txt) are
# installed only when the interpreter cannot already import rclpy (no ROS 2 install); where a ROS
# install is sourced, its rclpy is used, whatever its distro.
# ROS_DISTRO=kilted|jazzy (default kilted) picks the wheels for the no-ROS case:
# requirements-ros.txt (Kilted) or requirements-ros-jazzy.txt (Jazzy).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
WHEELS_DISTRO=${WHEELS_DISTRO:-${ROS_DISTRO:-kilted}}
case "$WHEELS_DISTRO" in
    kilted) ROS_REQ=requirements-ros.txt ;;
    jazzy) ROS_REQ=requirements-ros-jazzy.txt ;;
    *) if [ -z "${AMENT_PREFIX_PATH:-}" ]; then
           echo "[setup] ROS_DISTRO=$WHEELS_DISTRO: expected kilted or jazzy (the distros with PyPI wheels);" \
                "for another distro, source its install (/opt/ros/<distro>/setup.bash) first" >&2
           exit 2
       fi
       ROS_REQ= ;;
esac
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PY --version)"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
echo "[setup] installing requirements.txt (torch CPU build, pybullet, numpy, ...)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
if "$VENV/bin/python" -c "import rclpy" >/dev/null 2>&1; then
    echo "[setup] rclpy found ($("$VENV/bin/python" -c 'import rclpy,os;print(os.path.dirname(rclpy.__file__))')): not installing ROS wheels"
    # a sourced ROS install puts launch_testing's and launch_pytest's pytest plugins on the path;
    # they fail under pytest >= 8.4 (ros2/launch#979, #947): requirements.txt keeps pytest below it
elif [ -z "$ROS_REQ" ]; then
    echo "[setup] ROS_DISTRO=$WHEELS_DISTRO is sourced but $VENV/bin/python cannot import rclpy;" \
         "create the venv with the install's Python (PYTHON=/usr/bin/python3)" >&2
    exit 2
else
    echo "[setup] no rclpy: installing ROS 2 $WHEELS_DISTRO wheels from $ROS_REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROS_REQ"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, pybullet, rclpy; print("torch", torch.__version__, "| rclpy ok")')"
