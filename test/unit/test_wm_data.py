"""Transition data: npz shard round trip, windows, and the MCAP session loader."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.world_model_node.data import (CORE, FORMAT_VERSION, LABELS, DataError, Transitions,
                                                       load_dataset, save_shard)
from world_model_planner.world_model_node.bag_data import load_mcap


def _tr(n=12, ep=(0, 1), beams=8):
    eps = np.repeat(np.asarray(ep, np.int32), n // len(ep))
    rng = np.random.default_rng(0)
    scan = rng.uniform(0, 8, (n, beams)).astype(np.float32)
    scan[0, 0] = np.inf
    return Transitions(pose=rng.normal(size=(n, 3)).astype(np.float32), vel=rng.normal(size=(n, 2)).astype(np.float32),
                       scan=scan, cmd=rng.normal(size=(n, 2)).astype(np.float32), dt=np.full(n, 0.1, np.float32),
                       collision=(np.arange(n) % 3 == 0).astype(np.uint8), episode=eps,
                       t_s=np.arange(n, dtype=np.float32) * 0.1, meta={"range_max_m": 8.0, "episodes": {}})


def test_shard_round_trip_and_windows(tmp_path):
    tr = _tr()
    tr.ground[:] = [0.8, 0.8, 0.0]
    tr.ground[5:] = [0.1, 0.05, 0.01]
    tr.payload_kg[:] = np.arange(12)
    tr.latency_s[:] = 0.15
    tr.mover_dist_m[:] = np.inf
    tr.mover_dist_m[3] = 1.25
    save_shard(tmp_path / "shard_00000.npz", tr)
    back = load_dataset(tmp_path)
    assert len(back) == 12 and back.meta["format_version"] == FORMAT_VERSION == 2
    for k in LABELS:
        np.testing.assert_array_equal(getattr(back, k), getattr(tr, k))
        assert getattr(back, k).dtype == np.float32
    assert back.select_episodes([1]).ground.shape == (6, 3)
    np.testing.assert_array_equal(back.pose, tr.pose)
    np.testing.assert_allclose(back.scan, tr.scan, atol=0.01)  # scans are stored as float16
    assert np.isinf(back.scan[0, 0])
    np.testing.assert_array_equal(back.collision, tr.collision)
    # windows of 3 steps never cross the episode boundary at row 6
    np.testing.assert_array_equal(back.window_starts(3), [0, 1, 2, 6, 7, 8])
    assert len(back.select_episodes([1])) == 6
    assert back.stats()["episodes"] == 2


def test_bad_data_is_refused(tmp_path):
    with pytest.raises(DataError, match="no such data directory"):
        load_dataset(tmp_path / "missing")
    with pytest.raises(DataError, match="no shard_"):
        load_dataset(tmp_path)
    np.savez(tmp_path / "shard_00000.npz", pose=np.zeros((2, 3)))
    with pytest.raises(DataError, match="missing arrays"):
        load_dataset(tmp_path)


def test_labels_default_to_unknown():
    tr = Transitions(**{k: getattr(_tr(), k) for k in CORE})
    assert tr.ground.shape == (12, 3) and np.isnan(tr.ground).all()
    assert np.isnan(tr.payload_kg).all() and np.isnan(tr.latency_s).all() and np.isnan(tr.mover_dist_m).all()


def _write_v1(path, tr):
    arrays = {k: getattr(tr, k) for k in CORE}
    arrays["meta"] = np.array(__import__("json").dumps({"format_version": 1, "dt_s": 0.1, "episodes": {}}))
    np.savez_compressed(path, **arrays)


def test_v1_shard_is_upgraded_with_a_warning_and_convert_data_rewrites_it(tmp_path, caplog, capsys):
    from world_model_planner.app.cli import main as wmp

    tr = _tr()
    _write_v1(tmp_path / "shard_00000.npz", tr)
    with caplog.at_level("WARNING", logger="world_model_planner.world_model_node.data"):
        back = load_dataset(tmp_path)
    msg = [r.getMessage() for r in caplog.records]
    assert len(msg) == 1 and str(tmp_path / "shard_00000.npz") in msg[0] and "format_version 1" in msg[0]
    assert f"wmp convert-data {tmp_path}" in msg[0]
    assert np.isnan(back.ground).all() and np.isnan(back.mover_dist_m).all()
    np.testing.assert_array_equal(back.pose, tr.pose)

    assert wmp(["convert-data", str(tmp_path)]) == 0
    assert "rewrote 1 shard(s)" in capsys.readouterr().out
    caplog.clear()
    with caplog.at_level("WARNING", logger="world_model_planner.world_model_node.data"):
        again = load_dataset(tmp_path)
    assert not caplog.records and "upgraded_from" not in again.meta
    np.testing.assert_array_equal(again.pose, tr.pose)
    assert wmp(["convert-data", str(tmp_path)]) == 0          # already version 2: nothing to do
    assert "rewrote 0 shard(s)" in capsys.readouterr().out
    assert wmp(["convert-data", str(tmp_path / "nope")]) == 2
    assert "no such shard file or directory" in capsys.readouterr().err


def test_a_shard_of_another_version_or_with_bad_labels_is_refused(tmp_path):
    import json

    tr = _tr()
    arrays = {k: getattr(tr, k) for k in CORE}
    np.savez(tmp_path / "v9.npz", **arrays, meta=np.array(json.dumps({"format_version": 9})))
    with pytest.raises(DataError, match=r"v9.npz: expected format_version 2 .* got 9; re-collect"):
        load_dataset(tmp_path / "v9.npz")
    np.savez(tmp_path / "short.npz", **arrays, ground=np.zeros((5, 3)), payload_kg=np.zeros(12),
             latency_s=np.zeros(12), mover_dist_m=np.zeros(12), meta=np.array(json.dumps({"format_version": 2})))
    with pytest.raises(DataError, match=r"short.npz: arrays \['ground'\] do not match pose's 12 rows"):
        load_dataset(tmp_path / "short.npz")


def _write_mcap(path, cmd_type: str):
    from mcap_ros2.writer import Writer

    from world_model_planner.teleop.msgdefs import full_definition

    def stamp(t):
        return {"sec": int(t), "nanosec": int(round((t - int(t)) * 1e9))}

    with open(path, "wb") as f:
        w = Writer(f)
        schemas = {n: w.register_msgdef(n, full_definition(n)) for n in (
            "nav_msgs/msg/Odometry", "sensor_msgs/msg/LaserScan", cmd_type, "diagnostic_msgs/msg/DiagnosticArray")}
        t0 = 100.0
        log0 = 5_000_000_000  # log clock differs from the stamp clock
        times = [t0 + 0.05 * i for i in range(60)] + [t0 + 5.0 + 0.05 * i for i in range(40)]  # gap -> 2 episodes
        for i, t in enumerate(times):
            log = log0 + int((t - t0) * 1e9)
            yaw = 0.1 * i
            w.write_message("/odom", schemas["nav_msgs/msg/Odometry"], {
                "header": {"stamp": stamp(t), "frame_id": "odom"}, "child_frame_id": "base_link",
                "pose": {"pose": {"position": {"x": 0.5 * (t - t0), "y": 1.0, "z": 0.0},
                                  "orientation": {"x": 0.0, "y": 0.0, "z": math.sin(yaw / 2), "w": math.cos(yaw / 2)}},
                         "covariance": [0.0] * 36},
                "twist": {"twist": {"linear": {"x": 0.5, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": 0.3}},
                          "covariance": [0.0] * 36}}, log_time=log, publish_time=log)
            twist = {"linear": {"x": 0.6, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": -0.2}}
            msg = {"header": {"stamp": stamp(t), "frame_id": "base_link"}, "twist": twist} \
                if cmd_type.endswith("TwistStamped") else twist
            w.write_message("/cmd_vel", schemas[cmd_type], msg, log_time=log, publish_time=log)
            if i % 2 == 0:
                w.write_message("/scan", schemas["sensor_msgs/msg/LaserScan"], {
                    "header": {"stamp": stamp(t), "frame_id": "base_link"}, "angle_min": -math.pi,
                    "angle_max": math.pi, "angle_increment": 2 * math.pi / 8, "time_increment": 0.0,
                    "scan_time": 0.1, "range_min": 0.1, "range_max": 8.0,
                    "ranges": [float(i)] * 7 + [math.inf], "intensities": []}, log_time=log, publish_time=log)
            contact = 1.0 <= t - t0 < 1.5
            w.write_message("/diagnostics", schemas["diagnostic_msgs/msg/DiagnosticArray"], {
                "header": {"stamp": stamp(t), "frame_id": ""},
                "status": [{"level": 0, "name": "sim", "message": "", "hardware_id": "",
                            "values": [{"key": "in_contact", "value": "true" if contact else "false"}]}]},
                log_time=log, publish_time=log)
        w.finish()


@pytest.mark.parametrize("cmd_type", ["geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/Twist"])
def test_mcap_recording_is_resampled_into_transitions(tmp_path, cmd_type):
    path = tmp_path / "session.mcap"
    _write_mcap(path, cmd_type)
    tr = load_mcap(path, dt_s=0.1)
    assert tr.scan.shape[1] == 8 and tr.meta["range_max_m"] == 8.0
    assert list(np.unique(tr.episode)) == [0, 1]  # the 2 s gap starts a new episode
    first = tr.select_episodes([0])
    assert len(first) == 30  # 2.95 s of odom at 0.1 s
    np.testing.assert_allclose(first.pose[:, 0], 0.05 * np.arange(30), atol=1e-5)
    np.testing.assert_allclose(first.vel[0], [0.5, 0.3], atol=1e-6)
    np.testing.assert_allclose(first.cmd, np.tile([0.6, -0.2], (30, 1)), atol=1e-6)
    assert math.isclose(first.pose[4, 2], 0.1 * 8, abs_tol=1e-5)  # row 4 = odom message 8
    np.testing.assert_array_equal(np.nonzero(first.collision)[0], [10, 11, 12, 13, 14])
    assert np.isinf(first.scan[0, 7])
    assert np.isnan(first.ground).all() and np.isnan(first.payload_kg).all()   # labels unknown on a robot
    # the loader is reached through load_dataset for a directory of recordings too
    assert len(load_dataset(tmp_path)) == len(tr)


def test_mcap_without_odometry_is_refused(tmp_path):
    from mcap_ros2.writer import Writer

    from world_model_planner.teleop.msgdefs import full_definition

    path = tmp_path / "empty.mcap"
    with open(path, "wb") as f:
        w = Writer(f)
        s = w.register_msgdef("geometry_msgs/msg/Twist", full_definition("geometry_msgs/msg/Twist"))
        w.write_message("/cmd_vel", s, {"linear": {"x": 0.0, "y": 0.0, "z": 0.0},
                                        "angular": {"x": 0.0, "y": 0.0, "z": 0.0}}, log_time=1)
        w.finish()
    with pytest.raises(DataError, match="expected /odom"):
        load_mcap(path)
