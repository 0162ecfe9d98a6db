#!/usr/bin/env bash
# Create .venv and install pinned dependencies. The ROS 2 wheels (requirements-ros.txt) are
# installed only when the interpreter cannot already import rclpy (no ROS 2 install).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PY --version)"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
echo "[setup] installing requirements.txt (torch CPU build, pybullet, numpy, ...)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
if "$VENV/bin/python" -c "import rclpy" >/dev/null 2>&1; then
    echo "[setup] rclpy found ($("$VENV/bin/python" -c 'import rclpy,os;print(os.path.dirname(rclpy.__file__))')): not installing ROS wheels"
else
    echo "[setup] no rclpy: installing ROS 2 Kilted wheels from requirements-ros.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-ros.txt
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, pybullet, rclpy; print("torch", torch.__version__, "| rclpy ok")')"
