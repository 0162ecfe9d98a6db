"""Session recording: MCAP round trip, metadata, crash safety (kill -9), disk full, SIGINT."""
import os
import subprocess
import sys

import pytest
from mcap_ros2.reader import read_ros2_messages

from world_model_planner.teleop.msgdefs import MsgDefError, full_definition
from world_model_planner.teleop.recorder import SESSION_TOPICS, SessionInfo, SessionWriter, read_session_metadata
from world_model_planner.core.params import ConfigError


def _messages():
    """One message of every recorded type, with distinctive values."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from nav_msgs.msg import Odometry, Path
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import LaserScan
    from std_msgs.msg import Bool

    odom = Odometry()
    odom.header.stamp.sec, odom.header.stamp.nanosec, odom.header.frame_id = 12, 500, "odom"
    odom.child_frame_id = "base_link"
    odom.pose.pose.position.x, odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = 1.25, 0.6, 0.8
    odom.pose.covariance[0] = 0.01
    odom.twist.twist.linear.x, odom.twist.twist.angular.z = 0.7, -0.2
    scan = LaserScan(angle_min=-3.14159, angle_increment=0.0349, range_max=8.0)
    scan.ranges = [1.0, 2.5, float("inf")] + [3.0] * 177
    cmd = TwistStamped()
    cmd.header.stamp.sec = 12
    cmd.twist.linear.x, cmd.twist.angular.z = 0.4, 0.9
    goal = PoseStamped()
    goal.pose.position.x, goal.pose.position.y = 3.0, -1.0
    path = Path(poses=[goal, goal])
    diag = DiagnosticArray(status=[DiagnosticStatus(name="sim", level=b"\x01", values=[
        KeyValue(key="collisions", value="2"), KeyValue(key="clearance_m", value="0.35")])])
    clock = Clock()
    clock.clock.sec, clock.clock.nanosec = 12, 500
    return {"/odom": odom, "/scan": scan, "/cmd_vel": cmd, "/cmd_vel_teleop": cmd, "/cmd_vel_nav": cmd,
            "/goal_pose": goal, "/plan": path, "/diagnostics": diag, "/clock": clock,
            "/mux/intervention": Bool(data=True)}


def test_round_trip_objects_and_cdr_values_equal(tmp_path):
    from rclpy.serialization import serialize_message

    msgs = _messages()
    path = tmp_path / "s.mcap"
    info = SessionInfo(scenario="open", seed=7, operator="ada", mode="shared")
    with SessionWriter(path, info) as w:
        for i, (topic, msg) in enumerate(msgs.items()):
            w.write(topic, SESSION_TOPICS[topic], msg, log_time_ns=1000 + i)              # object
            w.write_cdr(topic, SESSION_TOPICS[topic], serialize_message(msg), log_time_ns=2000 + i)  # raw
    back = list(read_ros2_messages(str(path)))
    assert len(back) == 2 * len(msgs)
    from mcap.reader import make_reader
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None and all(c.compression == "zstd" for c in summary.chunk_indexes)
    for m in back:
        orig = msgs[m.channel.topic]
        r = m.ros_msg
        assert m.schema.name == SESSION_TOPICS[m.channel.topic]
        if m.channel.topic == "/odom":
            assert (r.header.stamp.sec, r.header.stamp.nanosec, r.header.frame_id, r.child_frame_id) == \
                (12, 500, "odom", "base_link")
            assert r.pose.pose.position.x == 1.25 and r.pose.pose.orientation.z == 0.6
            assert r.pose.covariance[0] == 0.01 and r.twist.twist.angular.z == -0.2
        elif m.channel.topic == "/scan":
            assert list(r.ranges) == pytest.approx(list(orig.ranges)) and r.range_max == 8.0
        elif m.channel.topic.startswith("/cmd_vel"):
            assert (r.twist.linear.x, r.twist.angular.z, r.header.stamp.sec) == (0.4, 0.9, 12)
        elif m.channel.topic == "/plan":
            assert len(r.poses) == 2 and r.poses[1].pose.position.y == -1.0
        elif m.channel.topic == "/diagnostics":
            st = r.status[0]
            assert st.name == "sim" and st.level == 1 and [(k.key, k.value) for k in st.values] == \
                [("collisions", "2"), ("clearance_m", "0.35")]
        elif m.channel.topic == "/clock":
            assert (r.clock.sec, r.clock.nanosec) == (12, 500)
        elif m.channel.topic == "/mux/intervention":
            assert r.data is True
    meta = read_session_metadata(path)
    assert {k: meta[k] for k in ("scenario", "seed", "operator", "mode")} == \
        {"scenario": "open", "seed": "7", "operator": "ada", "mode": "shared"}
    assert meta["software_version"].startswith("world_model_planner")


def test_unflushed_file_is_readable_at_every_flush(tmp_path):
    """Between flushes the file on disk ends in a valid trailer: readable without close()."""
    from std_msgs.msg import Bool

    now = [0.0]
    w = SessionWriter(tmp_path / "p.mcap", SessionInfo(), flush_period_s=1.0, clock=lambda: now[0])
    for i in range(30):
        now[0] = i * 0.1
        w.write("/mux/intervention", "std_msgs/msg/Bool", Bool(data=bool(i % 2)), log_time_ns=i)
    # flushed at t=1.0, 2.0 (messages 0..20); 21..29 are still in memory
    n = len(list(read_ros2_messages(str(tmp_path / "p.mcap"))))
    assert n == 21
    w.close()
    assert len(list(read_ros2_messages(str(tmp_path / "p.mcap")))) == 30


_DISK_FULL_SCRIPT = r"""
import resource, signal, sys
from std_msgs.msg import String
from world_model_planner.teleop.recorder import SessionWriter, SessionInfo
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)           # EFBIG instead of a signal
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
w = SessionWriter(sys.argv[1], SessionInfo(scenario="open"), flush_period_s=0.0)
i = 0
while w.write("/s", "std_msgs/msg/String", String(data="%06d" % i + "x" * 200), log_time_ns=i):
    i += 1
w.close()
print(i, w.failed)
"""


def test_disk_full_stops_cleanly_and_file_stays_readable(tmp_path):
    """A file-size limit (EFBIG) stands in for a full disk (ENOSPC): same code path."""
    path = tmp_path / "full.mcap"
    out = subprocess.run([sys.executable, "-c", _DISK_FULL_SCRIPT, str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    written, reason = out.stdout.split(" ", 1)
    assert "recording stopped" in reason and int(written) > 10
    assert os.path.getsize(path) <= 20000
    data = [m.ros_msg.data[:6] for m in read_ros2_messages(str(path))]
    assert data == ["%06d" % i for i in range(len(data))]   # an unbroken prefix
    assert len(data) >= int(written) - 1                    # flushed every message: lost at most one


def test_missing_definitions_and_bad_metadata_are_refused():
    with pytest.raises(MsgDefError, match="no definition for nosuch_msgs/msg/X"):
        full_definition("nosuch_msgs/msg/X")
    with pytest.raises(ConfigError, match="mode"):
        SessionInfo(mode="autopilot")
    assert "MSG: std_msgs/Header" in full_definition("nav_msgs/msg/Odometry")


def test_rosbag2_channel_metadata_matches_rosbags():
    """The recorder's type hash table and QoS text are what rosbags computes and parses."""
    pytest.importorskip("rosbags")
    from rosbags.interfaces import QosReliability
    from rosbags.rosbag2.metadata import parse_qos

    from world_model_planner.core.bag_io import typestore
    from world_model_planner.teleop.recorder import SESSION_TOPICS, TYPE_HASHES, offered_qos

    store = typestore()
    assert set(TYPE_HASHES) >= set(SESSION_TOPICS.values())
    for name, digest in TYPE_HASHES.items():
        assert store.hash_rihs01(name) == digest, name
    (best,) = parse_qos(offered_qos(best_effort=True))
    (rel,) = parse_qos(offered_qos())
    assert best.reliability == QosReliability.BEST_EFFORT and rel.reliability == QosReliability.RELIABLE
    assert rel.depth == 10
