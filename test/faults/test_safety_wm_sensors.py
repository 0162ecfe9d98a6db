"""world_model_node as a real process: bad /scan and /odom samples (future stamps, unset stamps,
non-finite or absurd LaserScan headers, 100,000 beams, all-invalid ranges, bad quaternions) are
skipped and counted in /diagnostics, never reach the model (no prediction is made from them),
and the node stays up without a traceback. Runtime parameter changes are applied or refused;
unknown or wrongly typed params-file keys stop the node with one line and exit 2."""
from __future__ import annotations

import math
import time

import pytest
from world_model_planner.testing.sensors import status_values, transition, wait_log
from world_model_planner.testing.processes import NodeProcess

from world_model_planner.world_model_node.checkpoint import save_checkpoint
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

pytest.importorskip("rclpy")
BEAMS = 180


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("wm") / "tiny.pt", WorldModel(WorldModelConfig(scan_beams=BEAMS)))


def _stamp(t: float):
    from builtin_interfaces.msg import Time

    return Time(sec=int(t), nanosec=int((t % 1.0) * 1e9))


def _scan(t: float, **over):
    from sensor_msgs.msg import LaserScan

    inc = 2 * math.pi / BEAMS
    s = LaserScan(angle_min=-math.pi, angle_max=math.pi - inc, angle_increment=inc, range_min=0.1, range_max=8.0,
                  ranges=[5.0] * BEAMS)
    s.header.frame_id = "base_link"
    s.header.stamp = _stamp(over.pop("stamp", t))
    for k, v in over.items():
        setattr(s, k, v)
    return s


def _odom(t: float, stamp: float | None = None, qw: float = 1.0, x: float = 0.0):
    from nav_msgs.msg import Odometry

    o = Odometry()
    o.header.frame_id, o.child_frame_id = "odom", "base_link"
    o.header.stamp = _stamp(t if stamp is None else stamp)
    o.pose.pose.orientation.w = qw
    o.pose.pose.position.x = x
    return o


BAD_SCANS = {
    "range_max_nan": dict(range_max=float("nan")),
    "angle_min_nan": dict(angle_min=float("nan")),
    "range_max_zero": dict(range_max=0.0),
    "range_max_1e6": dict(range_max=1e6),
    "all_negative": dict(ranges=[-1.0] * BEAMS),
    "increment_zero": dict(angle_increment=0.0),
    "beams_100k": dict(angle_increment=2 * math.pi / 100_000, angle_max=math.pi, ranges=[5.0] * 100_000),
    "future_stamp": "future",
    "unset_stamp": "unset",
}


def _bad_scan(kind: str, now: float):
    spec = BAD_SCANS[kind]
    if spec == "future":
        return _scan(now, stamp=now + 100.0)
    if spec == "unset":
        return _scan(now, stamp=0.0)
    return _scan(now, **spec)


def _start(node_env, tmp_path, ckpt, *extra):
    return NodeProcess.executable("world_model_node", ["-p", f"model_path:={ckpt}", "-p", "device:=cpu",
                                                       "-p", "diagnostics_period_s:=0.3", *extra], node_env, tmp_path)


def test_bad_scans_and_odometry_are_skipped_counted_and_never_reach_the_model(ckpt, node_env, probe, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan
    from visualization_msgs.msg import MarkerArray

    node = _start(node_env, tmp_path, ckpt)
    try:
        probe.subscribe("/diagnostics", DiagnosticArray)
        probe.subscribe("/world_model/prediction", MarkerArray)
        scan_pub = probe.node.create_publisher(LaserScan, "/scan", 10)
        odom_pub = probe.node.create_publisher(Odometry, "/odom", 10)
        assert transition(probe, "world_model_node", 1) and transition(probe, "world_model_node", 3)
        probe.wait_for_subscribers(scan_pub)
        probe.wait_for_subscribers(odom_pub)
        clock = probe.node.get_clock()
        kinds = list(BAD_SCANS)
        # 3 s of good odometry with only bad scans, plus bad odometry now and then
        for k in range(60):
            now = clock.now().nanoseconds * 1e-9
            scan_pub.publish(_bad_scan(kinds[k % len(kinds)], now))
            if k % 10 == 5:
                odom_pub.publish(_odom(now, stamp=now + 50.0))       # from the future
            elif k % 10 == 7:
                odom_pub.publish(_odom(now, qw=0.0))                  # not a unit quaternion
            elif k % 10 == 9:
                odom_pub.publish(_odom(now, x=1e12))                  # absurd position
            else:
                odom_pub.publish(_odom(now, x=0.01 * k))
            time.sleep(0.05)

        def counted(msgs):
            v = status_values(msgs, "world_model")
            return v and int(v["rejected_scan"]) >= 40 and int(v["rejected_odom"]) >= 12

        msgs = probe.wait_for("/diagnostics", counted, timeout=20, proc=node)
        values = status_values(msgs, "world_model")
        assert values["samples"] == "0" and values["last_rejection"]
        # no frame was ever built from those scans: nothing was predicted
        assert probe.received("/world_model/prediction") == []
        assert node.alive()
        log = node.log()
        assert "skipping scan sample" in log and "skipping odom sample" in log
        assert "Traceback" not in log and "[ERROR]" not in log, log[-3000:]
        # the node still works: valid scans bring predictions
        for k in range(40):
            now = clock.now().nanoseconds * 1e-9
            scan_pub.publish(_scan(now))
            odom_pub.publish(_odom(now, x=0.01 * k))
            time.sleep(0.05)
        probe.wait_for("/world_model/prediction", timeout=10, proc=node)
    finally:
        node.stop()


def test_runtime_parameter_changes_are_applied_or_refused(ckpt, node_env, probe, tmp_path):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import GetParameters, SetParameters

    def set_param(name, value):
        if isinstance(value, str):
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        else:
            pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(value))
        req = SetParameters.Request(parameters=[Parameter(name=name, value=pv)])
        return probe.call(SetParameters, "/world_model_node/set_parameters", req).results[0]

    node = _start(node_env, tmp_path, ckpt)
    try:
        assert transition(probe, "world_model_node", 1) and transition(probe, "world_model_node", 3)
        ok = set_param("sensors.future_tolerance_s", 5.0)
        assert ok.successful, ok.reason
        wait_log(node, "parameters applied: sensors.future_tolerance_s=5.0")
        got = probe.call(GetParameters, "/world_model_node/get_parameters",
                         GetParameters.Request(names=["sensors.future_tolerance_s"])).values[0]
        assert got.double_value == 5.0
        bad = set_param("sensors.future_tolerance_s", -1.0)
        assert not bad.successful and "future_tolerance_s" in bad.reason
        late = set_param("model_path", "/elsewhere/model.pt")
        assert not late.successful and "take(s) effect when the model is loaded" in late.reason
        live = set_param("diagnostics_period_s", 0.2)
        assert live.successful, live.reason
        assert node.alive() and "Traceback" not in node.log()
    finally:
        node.stop()


@pytest.mark.parametrize("yaml_body, expected", [
    ("prediction_rate: 10.0", "unknown parameter(s) 'prediction_rate'"),
    ("sensors:\n      max_beam: 10", "unknown parameter(s) 'sensors.max_beam'"),
    ("prediction_rate_hz: fast", "parameter 'prediction_rate_hz'"),
    ("sensors:\n      future_tolerance_s: 1.0e9", "future_tolerance_s"),
])
def test_bad_params_files_stop_the_node_with_one_line(node_env, tmp_path, yaml_body, expected):
    params = tmp_path / "wm.yaml"
    params.write_text(f"/**/world_model_node:\n  ros__parameters:\n    {yaml_body}\n")
    node = NodeProcess.executable("world_model_node", ["--params-file", str(params)], node_env, tmp_path)
    try:
        node.proc.wait(30)
        log = node.log()
        assert node.proc.returncode == 2, log[-3000:]
        errors = [ln for ln in log.splitlines() if ln.startswith("[error]")]
        assert len(errors) == 1 and expected in errors[0], log[-3000:]
        assert "Traceback" not in log
    finally:
        node.stop()
