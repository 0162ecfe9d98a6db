"""Fault injection, recording: the disk fills up under session_recorder (a real process).

The recording goes to a 1 MiB tmpfs (mounted here when running as root with mount permitted);
elsewhere a 1 MiB file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG instead of a signal)
stands in — the recorder treats ENOSPC, EDQUOT and EFBIG alike. The library path under
RLIMIT_FSIZE is covered in test_recorder.py::test_disk_full_stops_cleanly_and_file_stays_readable.

Expected: the recorder stops cleanly with exit status 3 and a clear log line, and the file opens
in mcap_ros2's reader with an unbroken prefix of what was sent.
"""
from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from world_model_planner.testing.processes import NodeProcess

pytest.importorskip("rclpy")
pytest.importorskip("mcap_ros2")

from mcap_ros2.reader import read_ros2_messages  # noqa: E402

from world_model_planner.app.recorder_cli import record_ros_args  # noqa: E402

SIZE = 1 << 20


@pytest.fixture
def small_disk(tmp_path):
    """(directory, how): a 1 MiB tmpfs, or a plain directory with a 1 MiB RLIMIT_FSIZE."""
    d = tmp_path / "disk"
    d.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(d)], capture_output=True).returncode == 0
    try:
        yield d, "tmpfs" if mounted else "rlimit"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(d)], check=False)


def test_full_disk_stops_the_recorder_cleanly_and_the_file_is_readable(small_disk, node_env, probe, tmp_path):
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan

    disk, how = small_disk
    out = disk / "session.mcap"
    exe = Path(sys.executable).parent / "session_recorder"
    args = [str(exe), *record_ros_args(out, "open", 0, "fault", "teleop", flush_period_s=0.2)]
    if how == "rlimit":   # ulimit -f counts 1024-byte blocks; an ignored SIGXFSZ survives exec
        args = ["bash", "-c", f"ulimit -f {SIZE // 1024}; trap '' XFSZ; exec {shlex.join(args)}"]
    rec = NodeProcess(args, node_env, tmp_path / "session_recorder.log")
    odom = probe.node.create_publisher(Odometry, "/odom", 50)
    scan = probe.node.create_publisher(LaserScan, "/scan", 50)
    rng = random.Random(0)
    try:
        probe.wait_for_subscribers(odom)
        probe.wait_for_subscribers(scan)
        n, deadline = 0, time.monotonic() + 60.0
        while rec.alive():             # random ranges do not compress: ~1 MiB in a few seconds
            assert time.monotonic() < deadline, f"recorder still running after 60 s:\n{rec.log()[-3000:]}"
            o = Odometry()
            o.pose.pose.position.x = float(n)
            s = LaserScan(range_max=8.0, ranges=[rng.uniform(0.1, 8.0) for _ in range(360)])
            odom.publish(o)
            scan.publish(s)
            n += 1
            time.sleep(0.005)
        code = rec.proc.wait(10)
    finally:
        rec.stop()
    log = rec.log_path.read_text()
    print(f"\n{how}: sent {n} odom+scan, recorder exit {code}, file {out.stat().st_size} bytes")
    assert code == 3, log[-3000:]
    assert "recording stopped" in log and "readable up to the last flush" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert out.stat().st_size <= SIZE
    xs = [m.ros_msg.pose.pose.position.x for m in read_ros2_messages(str(out), topics=["/odom"])]
    assert len(xs) > 20
    assert xs == sorted(xs) and xs[-1] < n                  # what was flushed, in order
    scans = list(read_ros2_messages(str(out), topics=["/scan"]))
    assert scans and all(len(m.ros_msg.ranges) == 360 for m in scans)
