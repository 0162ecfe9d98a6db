#!/usr/bin/env python3
"""How long `--data` takes to load a robot's bag: writes one recording with `rosbags` (the
independent rosbag2 writer) in each storage, MCAP and sqlite3, then times the project's loader
(world_model_node.data.load_dataset) on each and prints the numbers.

    python scripts/bag_load_timing.py --seconds 120 --beams 360

The bag is what a robot records: odometry at --odom-hz, a 360-degree scan of --beams beams at
--scan-hz, and TwistStamped commands at --cmd-hz on renamed topics (/robot/odom, /front/scan,
/cmd_vel_out, mapped with a TopicMap as --topics does) with zero header stamps (the loader falls
back to the receive time). Writing is not timed; the load is, once per storage (--repeat for more).
"""
from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from pathlib import Path

import numpy as np

TOPICS = {"odom": "/robot/odom", "scan": "/front/scan", "cmd": "/cmd_vel_out"}


def write_bag(path: Path, storage: str, seconds: float, beams: int, odom_hz: float, scan_hz: float,
              cmd_hz: float) -> int:
    """A rosbag2 directory at ``path`` (rosbags Writer, metadata version 9); returns messages written."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types

    def time_msg(t):
        return T["builtin_interfaces/msg/Time"](sec=int(t), nanosec=int(round((t - int(t)) * 1e9)) % 1_000_000_000)

    def header(t, frame):
        return T["std_msgs/msg/Header"](stamp=time_msg(t), frame_id=frame)

    vec = T["geometry_msgs/msg/Vector3"]
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    log0, t0 = 1_700_000_000 * 10**9, 1000.0       # receive clock (wall) and stamp clock differ
    events = []                                        # (t_s, kind)
    for kind, hz in (("odom", odom_hz), ("scan", scan_hz), ("cmd", cmd_hz)):
        events += [(k / hz, kind) for k in range(int(seconds * hz))]
    events.sort()
    n = 0
    with Writer(path, version=9, storage_plugin=plugin) as w:
        conn = {"odom": w.add_connection(TOPICS["odom"], "nav_msgs/msg/Odometry", typestore=ts),
                "scan": w.add_connection(TOPICS["scan"], "sensor_msgs/msg/LaserScan", typestore=ts),
                "cmd": w.add_connection(TOPICS["cmd"], "geometry_msgs/msg/TwistStamped", typestore=ts)}
        ranges = np.full(beams, 4.0, np.float32)
        for t, kind in events:
            st = t0 + t
            if kind == "odom":
                yaw = 0.2 * t
                msg = T["nav_msgs/msg/Odometry"](
                    header=header(st, "odom"), child_frame_id="base_link",
                    pose=T["geometry_msgs/msg/PoseWithCovariance"](
                        pose=T["geometry_msgs/msg/Pose"](
                            position=T["geometry_msgs/msg/Point"](x=0.5 * t, y=0.0, z=0.0),
                            orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=math.sin(yaw / 2),
                                                                          w=math.cos(yaw / 2))),
                        covariance=np.zeros(36)),
                    twist=T["geometry_msgs/msg/TwistWithCovariance"](
                        twist=T["geometry_msgs/msg/Twist"](linear=vec(x=0.5, y=0.0, z=0.0),
                                                           angular=vec(x=0.0, y=0.0, z=0.2)),
                        covariance=np.zeros(36)))
                typ = "nav_msgs/msg/Odometry"
            elif kind == "scan":
                msg = T["sensor_msgs/msg/LaserScan"](
                    header=header(st, "base_link"), angle_min=-math.pi, angle_max=math.pi,
                    angle_increment=2 * math.pi / beams, time_increment=0.0, scan_time=1.0 / scan_hz,
                    range_min=0.1, range_max=8.0, ranges=ranges, intensities=np.zeros(0, np.float32))
                typ = "sensor_msgs/msg/LaserScan"
            else:
                msg = T["geometry_msgs/msg/TwistStamped"](
                    header=header(0.0, "base_link"),       # a zero stamp, as some publishers send
                    twist=T["geometry_msgs/msg/Twist"](linear=vec(x=0.5, y=0.0, z=0.0),
                                                       angular=vec(x=0.0, y=0.0, z=0.2)))
                typ = "geometry_msgs/msg/TwistStamped"
            w.write(conn[kind], log0 + int(round(t * 1e9)), ts.serialize_cdr(msg, typ))
            n += 1
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="length of the recording (s)")
    ap.add_argument("--beams", type=int, default=360, help="scan beams over 360 degrees")
    ap.add_argument("--odom-hz", type=float, default=50.0)
    ap.add_argument("--scan-hz", type=float, default=10.0)
    ap.add_argument("--cmd-hz", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=1, help="loads per storage (the fastest is printed too)")
    ap.add_argument("--out", default=None, help="directory for the bags (default: a temporary one, removed)")
    args = ap.parse_args(argv)

    from world_model_planner.core.bag_io import TopicMap
    from world_model_planner.world_model_node.data import load_dataset

    logging.getLogger("world_model_planner").setLevel(logging.ERROR)   # the zero-stamp warning is expected
    tm = TopicMap(**TOPICS)
    with tempfile.TemporaryDirectory(prefix="wmp-bagtime-") as tmp:
        root = Path(args.out or tmp)
        print(f"bag: {args.seconds:g} s, odom {args.odom_hz:g} Hz, scan {args.scan_hz:g} Hz x {args.beams} beams, "
              f"TwistStamped {args.cmd_hz:g} Hz (zero stamps), topics {tm}")
        for storage in ("mcap", "sqlite3"):
            bag = root / f"bag_{storage}"
            n = write_bag(bag, storage, args.seconds, args.beams, args.odom_hz, args.scan_hz, args.cmd_hz)
            size = sum(f.stat().st_size for f in bag.iterdir())
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                tr = load_dataset(bag, topics=tm)
                times.append(time.perf_counter() - t)
            print(f"{storage:8s} {n} messages, {size / 2**20:.1f} MiB: load {times[0]:.2f} s"
                  + (f" (fastest of {args.repeat}: {min(times):.2f} s)" if args.repeat > 1 else "")
                  + f", {len(tr)} rows, {tr.meta['cmd_rows']} carrying a command")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
