"""wmp compare end to end on recordings written by the session writer: the HTML is
self-contained, and its numbers are the metrics of the recordings."""
import math
import re

import pytest

from world_model_planner.teleop.recorder import SessionInfo, SessionWriter
from world_model_planner.app.cli import main as wmp


def _record(path, mode, operator, speeds, w_radps=0.0, interventions=0):
    """A session on 'open' (start (-3.5, 0), goal (3.5, 0)) driven at the given speed profile."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan
    from std_msgs.msg import Bool

    def stamp(h, t):
        h.stamp.sec, h.stamp.nanosec = int(t), int(round((t - int(t)) * 1e9)) % 1_000_000_000

    dt, x, y, th, t = 0.05, -3.5, 0.0, 0.0, 10.0
    with SessionWriter(path, SessionInfo(scenario="open", seed=0, operator=operator, mode=mode)) as w:
        g = PoseStamped()
        stamp(g.header, t)
        g.pose.position.x = 3.5
        w.write("/goal_pose", "geometry_msgs/msg/PoseStamped", g, log_time_ns=int(t * 1e9))
        for i, v in enumerate(speeds):
            o = Odometry()
            stamp(o.header, t)
            o.pose.pose.position.x, o.pose.pose.position.y = x, y
            o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(th / 2), math.cos(th / 2)
            o.twist.twist.linear.x, o.twist.twist.angular.z = v, w_radps
            w.write("/odom", "nav_msgs/msg/Odometry", o, log_time_ns=int(t * 1e9))
            c = TwistStamped()
            stamp(c.header, t)
            c.twist.linear.x, c.twist.angular.z = v, w_radps
            w.write("/cmd_vel", "geometry_msgs/msg/TwistStamped", c, log_time_ns=int(t * 1e9))
            if i % 2 == 0:
                s = LaserScan(range_max=8.0, angle_min=-math.pi, angle_increment=2 * math.pi / 180)
                stamp(s.header, t)
                s.ranges = [float("inf")] * 180
                w.write("/scan", "sensor_msgs/msg/LaserScan", s, log_time_ns=int(t * 1e9))
            if i % 10 == 0:
                d = DiagnosticArray(status=[DiagnosticStatus(name="sim", values=[
                    KeyValue(key="collisions", value=str(1 if i >= 40 else 0)),
                    KeyValue(key="clearance_m", value=f"{3.0 - 0.01 * i:.3f}")])])
                stamp(d.header, t)
                w.write("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", d, log_time_ns=int(t * 1e9))
            x, y, th, t = x + v * dt * math.cos(th), y + v * dt * math.sin(th), th + w_radps * dt, t + dt
        for k in range(interventions):
            w.write("/mux/intervention", "std_msgs/msg/Bool", Bool(data=True), log_time_ns=int(t * 1e9) + 2 * k)
            w.write("/mux/intervention", "std_msgs/msg/Bool", Bool(data=False), log_time_ns=int(t * 1e9) + 2 * k + 1)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    planner = str(d / "planner.mcap")
    person = str(d / "person.mcap")
    _record(planner, "planner", "planner", [0.9] * 170)
    _record(person, "teleop", "scripted", [0.0] * 20 + [0.6] * 260, interventions=2)
    return planner, person


def test_report_without_model_is_self_contained_and_numbers_match(recordings, tmp_path):
    from world_model_planner.teleop.report import read_report_data

    out = tmp_path / "r.html"
    assert wmp(["compare", *recordings, "--out", str(out), "--no-model"]) == 0
    text = out.read_text()
    assert "No world model was given" in text
    assert not re.search(r"(src|href)=\"(?!data:)", text) and "http://" not in text and "https://" not in text
    assert text.count('src="data:image/png;base64,') == 2
    data = read_report_data(str(out))
    pl, pe = (r["metrics"] for r in data["sessions"])
    # planner: 0.045 m per 0.05 s step from x=-3.5; inside the 0.3 m goal circle once x >= 3.2,
    # i.e. after ceil(6.7 / 0.045) = 149 steps
    assert pl["success"] and pl["time_s"] == pytest.approx(149 * 0.05, abs=1e-6)
    assert pl["path_length_m"] == pytest.approx(149 * 0.045, abs=1e-6)
    assert pl["spl"] == pytest.approx(pl["shortest_path_m"] / (149 * 0.045), abs=1e-6)
    assert pl["shortest_path_m"] == pytest.approx(6.7, abs=0.1)
    assert pl["collisions"] == 1 and pl["min_clearance_m"] == pytest.approx(3.0 - 0.01 * 140)
    assert pl["time_stopped_s"] == 0.0 and pl["mean_abs_jerk_mps3"] == pytest.approx(0.0, abs=1e-9)
    assert pl["interventions"] == 0 and pe["interventions"] == 2
    # person: stands 1 s (20 samples), then 0.03 m per step: ceil(6.7 / 0.03) = 224 steps
    assert pe["success"] and pe["time_s"] == pytest.approx((20 + 224) * 0.05, abs=1e-6)
    assert pe["path_length_m"] == pytest.approx(224 * 0.03, abs=1e-6)
    assert pe["time_stopped_s"] == pytest.approx(1.0, abs=1e-6)
    # one 0 -> 0.6 m/s step: |j| = 0.6/0.05/0.05 twice, over 245 - 2 jerk samples
    assert pe["mean_abs_jerk_mps3"] == pytest.approx(2 * 0.6 / 0.05 / 0.05 / 243, rel=1e-6)
    assert pe["min_clearance_m"] == pytest.approx(3.0 - 0.01 * 240)
    diff = data["differences"][0]["planner_minus_person"]
    assert diff["time_s"] == pytest.approx(pl["time_s"] - pe["time_s"])
    # the visible table shows the same numbers
    assert f"{pl['time_s']:.3f}" in text and f"{pe['path_length_m']:.3f}" in text
    assert f"{diff['time_s']:+.3f}" in text


def test_report_with_a_world_model_checkpoint(recordings, tmp_path):
    import torch

    from world_model_planner.teleop.report import read_report_data
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", WorldModel(WorldModelConfig()))
    out = tmp_path / "r.html"
    assert wmp(["compare", *recordings, "--out", str(out), "--model", str(ckpt), "--device", "cpu"]) == 0
    data = read_report_data(str(out))
    for r in data["sessions"]:
        p = r["prediction"]
        assert p["starts"] > 5 and p["1.0"]["n"] == p["starts"] and p["2.0"]["n"] == p["starts"]
        assert math.isfinite(p["1.0"]["mean_m"]) and math.isfinite(p["2.0"]["mean_m"])
    assert "mean error 1 s" in out.read_text()


def test_compare_refuses_missing_files(tmp_path, capsys):
    assert wmp(["compare", str(tmp_path / "nope.mcap"), "--out", str(tmp_path / "r.html")]) == 2
    assert "no such recording" in capsys.readouterr().err
