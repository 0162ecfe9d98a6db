"""`wmp snapshot`: save the robot's current camera frame as a goal picture (PNG).

Drive the robot (or place it) where it should later go, take a snapshot, and give the file to
`wmp run --goal-image` or publish it on /goal_image: the planner's camera world model embeds it
and plans to where the picture was taken (planner_node/goal_image.py). The frame is saved as the
planner reads it: the centre square of the camera image, at full resolution, in RGB."""
from __future__ import annotations

import sys
import time


def register(subparsers) -> None:
    p = subparsers.add_parser("snapshot", help="save the current camera frame as a goal picture (PNG)",
                              description=__doc__.splitlines()[0] + " Uses the ROS domain of this shell "
                              "(ROS_DOMAIN_ID); exits 1 when no frame comes within --timeout.")
    p.add_argument("--out", required=True, metavar="PICTURE.png", help="where to write the PNG (atomically)")
    p.add_argument("--topic", default="/camera/image_raw", help="sensor_msgs/Image topic (default: the sim's)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a frame")
    p.set_defaults(func=cmd_snapshot)


def take_snapshot(topic: str, timeout_s: float, domain_id: int | None = None):
    """The next frame on ``topic`` → (H, W, 3) uint8 RGB (centre square), or None after
    ``timeout_s``. Raises ValueError for a frame that cannot be read (named encoding or size)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from world_model_planner.core.rosconv import image_rgb

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id) if domain_id is not None else rclpy.init(context=ctx)
    node = rclpy.create_node("wmp_snapshot", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    got: list = []
    node.create_subscription(Image, topic, lambda m: got.append(m) if not got else None, qos_profile_sensor_data)
    try:
        deadline = time.monotonic() + timeout_s
        while not got and time.monotonic() < deadline:
            ex.spin_once(timeout_sec=0.05)
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    if not got:
        return None
    msg = got[0]
    side = min(int(msg.height), int(msg.width))
    return image_rgb(msg, max(side, 1))


def cmd_snapshot(args) -> int:
    from pathlib import Path

    from world_model_planner.core.pictures import save_picture

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        print(f"wmp snapshot: --out {out}: expected a .png file name", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"wmp snapshot: --out {out}: no directory {out.parent}", file=sys.stderr)
        return 2
    if not 0 < args.timeout <= 3600:
        print(f"wmp snapshot: --timeout {args.timeout}: expected seconds in (0, 3600]", file=sys.stderr)
        return 2
    try:
        frame = take_snapshot(args.topic, args.timeout)
    except ValueError as exc:
        print(f"wmp snapshot: {args.topic}: {exc}", file=sys.stderr)
        return 1
    if frame is None:
        print(f"wmp snapshot: no sensor_msgs/Image on {args.topic} within {args.timeout:g} s "
              "(is the camera on? the sim publishes one with camera_enabled:=true)", file=sys.stderr)
        return 1
    save_picture(out, frame)
    print(f"wrote {out} ({frame.shape[1]}x{frame.shape[0]} RGB) from {args.topic}")
    return 0
