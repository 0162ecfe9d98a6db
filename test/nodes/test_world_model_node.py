"""world_model_node: surprise/prediction library, online fine-tuning, and the node as a real
process over real topics (predictions, surprise diagnostics, corrupt-checkpoint refusal,
fine-tuned checkpoint announcement)."""
from __future__ import annotations

import copy
import math
import threading
import time

import numpy as np
import pytest

from world_model_planner.testing.processes import NodeProcess
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.monitor import CommandLog, SurpriseMonitor
from world_model_planner.world_model_node.online import OnlineFinetuner, ReplayBuffer

BEAMS = 180


def unicycle(n_steps: int, slip: float = 1.0, vary: bool = False, dt_s: float = 0.05, seed: int = 0):
    """Yields (t_s, pose, vel, cmd): a constant command (``vary``: a new one every second,
    reported velocity jumping to it); the pose moves ``slip`` times as far as the command and
    the reported velocity say (slip != 1: a surprising world)."""
    rng = np.random.default_rng(seed)
    x = y = yaw = 0.0
    v, w = 0.5, 0.3
    for k in range(n_steps):
        if vary and k % 20 == 0 and k:
            v, w = float(rng.uniform(0.0, 1.0)), float(rng.uniform(-1.0, 1.0))
        yield k * dt_s, np.array([x, y, yaw]), np.array([v, w]), (v, w)
        yaw += w * dt_s
        x += slip * v * dt_s * math.cos(yaw)
        y += slip * v * dt_s * math.sin(yaw)


def feed(monitor, slip, n_steps=80, replay=None, vary=False):
    scan = np.full(BEAMS, 5.0, np.float32)
    for t, pose, vel, cmd in unicycle(n_steps, slip, vary):
        monitor.add_command(t, *cmd)
        monitor.add_scan(scan)
        monitor.add_odom(t, pose, vel)
        if replay is not None:
            for prev, frame in monitor.new_transitions:
                replay.add_pair(prev, frame)
            monitor.new_transitions.clear()


# --------------------------------------------------------------------------- library
def test_scans_of_other_layouts_are_projected_onto_the_model_beams():
    from world_model_planner.world_model_node.sensors import SensorGate
    from world_model_planner.core.sensor_check import SensorLimits

    gate = SensorGate(SensorLimits())
    inc = 2 * math.pi / BEAMS
    native = np.linspace(0.5, 2.0, BEAMS, dtype=np.float32)
    out, why = gate.scan(-math.pi, math.pi - inc, inc, 0.1, 8.0, native, 10.0, 10.0, BEAMS)
    assert why == "" and np.allclose(out, native)
    fine = np.full(720, 3.0)
    fine[0], fine[5] = 1.0, np.nan                       # 0 rad reading; one invalid beam
    out, why = gate.scan(0.0, 2 * math.pi, 2 * math.pi / 720, 0.1, 8.0, fine, 10.0, 10.0, BEAMS)
    assert why == "" and out[BEAMS // 2] == pytest.approx(1.0)
    coarse = np.full(90, 2.0)                            # 270 deg field of view
    out, why = gate.scan(-0.75 * math.pi, 0.75 * math.pi, 1.5 * math.pi / 90, 0.1, 8.0, coarse, 10.0, 10.0, BEAMS)
    assert why == "" and np.isnan(out).sum() == 45 and out[BEAMS // 2] == pytest.approx(2.0)
    assert gate.rejected == {"odom": 0, "scan": 0, "cmd": 0}


def test_command_log_time_weighted_mean():
    log = CommandLog()
    log.add(0.0, 1.0, 0.0)
    log.add(0.05, 0.0, 1.0)
    assert log.mean(0.0, 0.1) == pytest.approx((0.5, 0.5))
    assert log.mean(0.05, 0.1) == pytest.approx((0.0, 1.0))
    assert log.latest() == (0.0, 1.0)


def test_surprise_is_small_for_a_consistent_world_and_large_for_slip(model):
    calm, slip = SurpriseMonitor(model), SurpriseMonitor(model)
    feed(calm, slip=1.0)
    feed(slip, slip=2.0)
    s_calm, s_slip = calm.take_surprise(), slip.take_surprise()
    assert s_calm["samples"] == 39 and s_slip["samples"] == 39
    # the slipping robot covers twice the distance: ~v * 1 s extra after one second
    assert s_calm["surprise_1s_m"] < 0.05 < 0.2 < s_slip["surprise_1s_m"]
    assert s_calm["surprise_1step_m"] < s_calm["surprise_1s_m"] < s_slip["surprise_1s_m"]
    pred = calm.predict(2.0)
    assert pred.poses.shape == (21, 3) and pred.collision_prob.shape == (20,)
    assert np.allclose(pred.poses[0], calm.frames[-1].pose)
    assert math.isnan(calm.take_surprise()["surprise_1s_m"])  # window restarts


def test_gap_restarts_history(model):
    mon = SurpriseMonitor(model, max_gap_s=0.5)
    feed(mon, 1.0, n_steps=30)
    mon.add_odom(10.0, [0, 0, 0], [0, 0])
    assert len(mon.frames) == 1


def test_online_finetune_improves_a_surprised_model(model, tmp_path):
    mon, replay = SurpriseMonitor(model), ReplayBuffer(1000)
    feed(mon, slip=2.0, n_steps=200, replay=replay, vary=True)
    data = replay.transitions()
    assert len(data) == 100 and set(data.episode.tolist()) == {1}
    assert np.allclose(data.dt[:-1], 0.1, atol=1e-3)
    ft = OnlineFinetuner(tmp_path, steps=20, lr=1e-3)
    res = ft.finetune(copy.deepcopy(model), data, tmp_path / "ft.pt")
    assert res.accepted and res.val_after < 0.8 * res.val_before, res
    reloaded = load_checkpoint(res.path, device="cpu")
    assert reloaded.metrics["online_finetune"]["val_pose_err_after_m"] == pytest.approx(res.val_after)


def test_message_translation_twist_and_twiststamped_and_odom():
    from geometry_msgs.msg import Twist, TwistStamped
    from nav_msgs.msg import Odometry

    from world_model_planner.core.rosconv import odom_arrays, twist_values as twist_command

    plain = Twist()
    plain.linear.x, plain.angular.z = 0.4, -0.2
    assert twist_command(plain, stamped=False) == (None, 0.4, -0.2)
    stamped = TwistStamped()
    stamped.twist.linear.x = 0.3
    assert twist_command(stamped, stamped=True) == (None, 0.3, 0.0)   # zero stamp: use arrival time
    stamped.header.stamp.sec, stamped.header.stamp.nanosec = 12, 500_000_000
    assert twist_command(stamped, stamped=True)[0] == pytest.approx(12.5)
    odom = Odometry()
    odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(0.6), math.cos(0.6)
    odom.twist.twist.linear.x = 0.7
    _, pose, vel = odom_arrays(odom)
    assert pose[2] == pytest.approx(1.2) and vel.tolist() == pytest.approx([0.7, 0.0])


# --------------------------------------------------------------------------- processes
def _start(node_env, tmp_path, **params) -> NodeProcess:
    ros_args = []
    for k, v in params.items():
        ros_args += ["-p", f"{k}:={v}"]
    return NodeProcess.executable("world_model_node", ros_args, node_env, tmp_path)


def _transition(probe, transition_id: int) -> bool:
    from world_model_planner.testing.sensors import transition

    return transition(probe, "world_model_node", transition_id)


class Driver:
    """Publishes /odom (20 Hz), /scan (10 Hz) and /cmd_vel (20 Hz) of a unicycle in a thread,
    stamped with wall time, until stopped. ``nan_every``: every n-th odom carries a nan."""

    def __init__(self, probe, slip=1.0, nan_every=0, vary=False):
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        self.probe, self.slip, self.nan_every, self.vary = probe, slip, nan_every, vary
        self.odom = probe.node.create_publisher(Odometry, "/odom", 10)
        self.scan = probe.node.create_publisher(LaserScan, "/scan", 10)
        self.cmd = probe.node.create_publisher(TwistStamped, "/cmd_vel", 10)
        self.types = Odometry, LaserScan, TwistStamped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        for pub in (self.odom, self.scan, self.cmd):
            self.probe.wait_for_subscribers(pub)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _run(self):
        from world_model_planner.core.rosconv import sec_to_stamp

        Odometry, LaserScan, TwistStamped = self.types
        t0 = time.time()
        for k, (t, pose, vel, cmd) in enumerate(unicycle(100000, self.slip, self.vary)):
            if self._stop.is_set():
                return
            stamp = sec_to_stamp(t0 + t)
            odom = Odometry()
            odom.header.stamp, odom.header.frame_id = stamp, "odom"
            odom.pose.pose.position.x, odom.pose.pose.position.y = float(pose[0]), float(pose[1])
            odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(pose[2] / 2), math.cos(pose[2] / 2)
            odom.twist.twist.linear.x, odom.twist.twist.angular.z = float(vel[0]), float(vel[1])
            tw = TwistStamped()
            tw.header.stamp = stamp
            tw.twist.linear.x, tw.twist.angular.z = cmd
            if self.nan_every and k % self.nan_every == self.nan_every - 1:
                odom.pose.pose.position.x = float("nan")
                tw.twist.angular.z = float("nan")
            if k == 3:   # a malformed scan (no beams, no increment) must not hurt
                self.scan.publish(LaserScan(angle_increment=0.0, ranges=[]))
            if k % 2 == 0:
                scan = LaserScan(angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / BEAMS,
                                 angle_increment=2 * math.pi / BEAMS, range_min=0.1, range_max=8.0,
                                 ranges=[5.0] * BEAMS)
                scan.header.stamp, scan.header.frame_id = stamp, "base_link"
                self.scan.publish(scan)
            self.odom.publish(odom)
            self.cmd.publish(tw)
            time.sleep(max(0.0, t0 + t + 0.05 - time.time()))  # pace the 20 Hz stream


def _world_model_status(msgs):
    for msg in reversed(msgs):
        for st in msg.status:
            if st.name == "world_model":
                return {kv.key: kv.value for kv in st.values}, st
    return None, None


def test_node_predicts_and_reports_surprise(probe, node_env, tmp_path, ckpt):
    from diagnostic_msgs.msg import DiagnosticArray
    from visualization_msgs.msg import MarkerArray

    probe.subscribe("/world_model/prediction", MarkerArray)
    probe.subscribe("/diagnostics", DiagnosticArray)
    node = _start(node_env, tmp_path, model_path=str(ckpt), diagnostics_period_s=0.5)
    try:
        assert _transition(probe, 1) and _transition(probe, 3)  # configure, activate
        with Driver(probe, nan_every=15):
            preds = probe.wait_for("/world_model/prediction", lambda m: len(m) >= 3, 30, proc=node)

            def surprise_known(msgs):
                values, _ = _world_model_status(msgs)
                return values is not None and values["surprise_1s_m"] != "nan"

            msgs = probe.wait_for("/diagnostics", surprise_known, 30, proc=node)
        line = preds[-1].markers[0]
        assert line.header.frame_id == "odom" and len(line.points) == 21  # 2 s at 0.1 s + start
        assert len(preds[-1].markers[1].colors) == 20
        values, status = _world_model_status(msgs)
        assert values["checkpoint"] == str(ckpt)
        assert float(values["surprise_1step_m"]) < 0.05 and float(values["surprise_1s_m"]) < 0.2
        # every 15th odom and command is non-finite: skipped, counted, and the status says so
        assert status.level == b"\x01" and "sensor sample(s) skipped" in status.message, status
        log = node.log()
        assert "skipping odom sample: odometry has non-finite values" in log
        assert "skipping cmd_vel sample: non-finite velocity command" in log
        assert "skipping scan sample: header stamp not set" in log
        assert log.count("skipping odom sample") <= 2  # throttled
        assert int(values["rejected_odom"]) >= 1 and int(values["rejected_scan"]) == 1
        assert "[ERROR]" not in log, log  # no callback failed (they are guarded, not silent)
        # lifecycle_manager shutdown + startup: deactivate, cleanup, configure, activate again
        assert all(_transition(probe, t) for t in (4, 2, 1, 3))
        assert node.alive() and "[ERROR]" not in node.log()
    finally:
        node.stop()


def test_node_refuses_a_corrupt_checkpoint_and_stays_up(probe, node_env, tmp_path, ckpt):
    from lifecycle_msgs.srv import GetState

    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(ckpt.read_bytes()[:2000])  # truncated
    node = _start(node_env, tmp_path, model_path=str(bad))
    try:
        assert not _transition(probe, 1)
        state = probe.call(GetState, "/world_model_node/get_state", GetState.Request()).current_state
        assert state.label == "unconfigured" and node.alive()
        log = node.log()
        assert "configure failed" in log and str(bad) in log and "weights_only" in log
    finally:
        node.stop()


def test_node_finetunes_online_and_announces_checkpoint(probe, node_env, tmp_path, ckpt):
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import String

    from world_model_planner.world_model_node.node import CHECKPOINT_QOS

    probe.subscribe("/world_model/checkpoint", String, CHECKPOINT_QOS)
    probe.subscribe("/diagnostics", DiagnosticArray)
    node = _start(node_env, tmp_path, model_path=str(ckpt), online_finetune="true",
                  finetune_period_s=1.0, finetune_lr=0.001, checkpoint_dir=str(tmp_path / "ft"))
    try:
        assert _transition(probe, 1) and _transition(probe, 3)
        with Driver(probe, slip=2.0, vary=True):
            msgs = probe.wait_for("/world_model/checkpoint", timeout=60, proc=node)
        path = msgs[0].data
        assert path.startswith(str(tmp_path / "ft")) and load_checkpoint(path, device="cpu").metrics[
            "online_finetune"]["val_pose_err_after_m"] >= 0.0
        assert "accepted" in node.log() and "[ERROR]" not in node.log()
    finally:
        node.stop()


def test_finetuner_waits_while_gaps_leave_no_full_window(model, tmp_path):
    mon, replay = SurpriseMonitor(model, max_gap_s=0.5), ReplayBuffer(1000)
    scan = np.full(BEAMS, 5.0, np.float32)
    for chunk in range(12):            # 12 chains of 4 frames, separated by 1 s gaps
        for k in range(8):
            t = chunk * 2.0 + k * 0.05
            mon.add_command(t, 0.5, 0.0)
            mon.add_scan(scan)
            mon.add_odom(t, [0.5 * t, 0.0, 0.0], [0.5, 0.0])
            for prev, frame in mon.new_transitions:
                replay.add_pair(prev, frame)
            mon.new_transitions.clear()
    data = replay.transitions()
    ft = OnlineFinetuner(tmp_path, steps=2, horizon=5)
    assert len(data) >= ft.min_rows and len(set(data.episode.tolist())) == 12
    assert not ft.start(model, data) and not ft.busy


def test_shipped_parameter_file_matches_the_declared_parameters():
    import dataclasses

    import yaml

    from world_model_planner.world_model_node.node_config import WorldModelNodeConfig
    from world_model_planner.core import paths

    from world_model_planner.core.sensor_check import SensorLimits

    doc = yaml.safe_load((paths.config_dir() / "world_model.yaml").read_text())
    values = doc["/**/world_model_node"]["ros__parameters"]
    sensors = values.pop("sensors")
    defaults, limits = WorldModelNodeConfig(), SensorLimits()
    assert values == {f.name: getattr(defaults, f.name) for f in dataclasses.fields(WorldModelNodeConfig)}
    assert sensors == {f.name: getattr(limits, f.name) for f in dataclasses.fields(SensorLimits)}
