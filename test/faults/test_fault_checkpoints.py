"""Fault injection, checkpoints: missing, truncated, random bytes, another model's config, a config
with a wrongly typed field (latent_dim: 64.5), a 1 MB deflate bomb (1 GiB uncompressed), another
observation layout, and a pickle crafted to run code — given to planner_node as a hot-reload
announcement (every kind), and to planner_node and world_model_node as real processes at configure
time (NODE_BAD: five kinds, ten processes at once).

Expected: a clear log line naming the file and the reason, no crash, nothing commanded by a node
without a usable model, no memory blow-up (the bomb is refused before it expands), and nothing in
the file executed (a marker file the payload would create stays absent). load_checkpoint itself is covered in test_wm_checkpoint.py (missing, truncated, random
bytes, foreign dicts/versions/configs, another layout, crafted pickle via torch.save and pickle).
"""
from __future__ import annotations

import os
import time

import pytest
import torch
from world_model_planner.testing.sensors import (FAST_PLANNER, SensorFeed, lifecycle_state, moving, no_traceback, publish_goal,
                           transition, wait_log)
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.bombs import PicklePayload, deflate_bomb_pt
from world_model_planner.testing.memory import peak_rss_kib

from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

pytest.importorskip("rclpy")

BAD = ("missing", "truncated", "random_bytes", "foreign_config", "float_latent_dim", "deflate_bomb",
       "crafted_pickle")
#: Given to the node processes: the nodes refuse every kind through load_checkpoint (all of BAD
#: are refused there, below); these four cover a missing file, bytes that are no archive, a bad
#: config field, and the two that must not get past the archive check (bomb, code).
NODE_BAD = ("missing", "random_bytes", "float_latent_dim", "deflate_bomb", "crafted_pickle")
#: What each refusal must say besides the file name.
REASON = {"float_latent_dim": "WorldModelConfig.latent_dim: expected int, got 64.5",
          "deflate_bomb": "declares 1073741824 bytes uncompressed"}


@pytest.fixture(scope="module")
def bad_files(ckpt, tmp_path_factory):  # noqa: F811
    """{kind: path} plus the marker the crafted pickle would create, and a 90-beam model."""
    d = tmp_path_factory.mktemp("bad_ckpt")
    data = ckpt.read_bytes()
    (d / "truncated.pt").write_bytes(data[: len(data) // 2])
    (d / "random_bytes.pt").write_bytes(os.urandom(8192))
    blob = torch.load(ckpt, weights_only=True)
    other = WorldModel(WorldModelConfig(scan_beams=180, latent_dim=48)).cfg.to_dict()
    torch.save(dict(blob, config=other), d / "foreign_config.pt")    # another model's config, these weights
    torch.save(dict(blob, config=dict(blob["config"], latent_dim=64.5)), d / "float_latent_dim.pt")
    deflate_bomb_pt(d / "deflate_bomb.pt")                           # 1 MB on disk, 1 GiB inflated
    marker = d / "code_ran"
    torch.save({"format": "wmp-world-model", "version": 1, "x": PicklePayload(str(marker))}, d / "crafted_pickle.pt")
    files = {k: d / f"{k}.pt" for k in BAD}
    files["layout90"] = save_checkpoint(d / "layout90.pt", WorldModel(WorldModelConfig(scan_beams=90, scan_bins=45)))
    return files, marker


def test_every_bad_file_is_refused_by_load_checkpoint(bad_files):
    files, marker = bad_files
    for kind in BAD:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(files[kind], device="cpu")
        assert str(files[kind]) in str(info.value), kind
        assert REASON.get(kind, "") in str(info.value), (kind, str(info.value))
    assert not marker.exists(), "the crafted pickle executed code"


@pytest.mark.slow
def test_nodes_given_a_bad_checkpoint_refuse_it_and_command_nothing(bad_files, node_env, probe, tmp_path):
    """One planner_node and one world_model_node per bad file of NODE_BAD, all at once (renamed nodes)."""
    from geometry_msgs.msg import TwistStamped

    files, marker = bad_files
    procs = {}
    for kind in NODE_BAD:
        path, log_dir = files[kind], tmp_path / kind
        log_dir.mkdir()
        probe.subscribe(f"/cmd_vel_nav_{kind}", TwistStamped)
        procs[kind] = (
            NodeProcess.executable("planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", "planner:=flat",
                                                    "-p", f"model_path:={path}", "-r", f"__node:=planner_{kind}",
                                                    "-r", f"cmd_vel_nav:=cmd_vel_nav_{kind}"], node_env, log_dir),
            NodeProcess.executable("world_model_node", ["-p", f"model_path:={path}", "-p", "device:=cpu",
                                                        "-r", f"__node:=wm_{kind}"], node_env, log_dir))
    try:
        for i, (kind, (planner, wm)) in enumerate(procs.items()):
            path = files[kind]
            # all the processes start at once (each imports torch and rclpy); on a fresh clone the
            # first also compile the package's bytecode, so the first service may take a while
            assert not transition(probe, f"wm_{kind}", 1, timeout=120.0 if i == 0 else 30.0), kind
            assert lifecycle_state(probe, f"wm_{kind}") == "unconfigured"
            assert str(path) in wait_log(wm, "configure failed")
            assert str(path) in wait_log(planner, "configure failed")
            assert REASON.get(kind, "") in wm.log() and REASON.get(kind, "") in planner.log(), kind
            assert lifecycle_state(probe, f"planner_{kind}") == "unconfigured"
        for kind, (planner, wm) in procs.items():
            # unconfigured: it has no command publisher at all
            assert not probe.received(f"/cmd_vel_nav_{kind}"), kind
            assert planner.alive() and wm.alive(), kind
            assert no_traceback(planner), planner.log()[-3000:]
            assert no_traceback(wm), wm.log()[-3000:]
        assert not marker.exists(), "the crafted pickle executed code in a node"
    finally:
        for planner, wm in procs.values():
            planner.stop()
            wm.stop()


def test_planner_hot_reload_of_bad_files_keeps_driving_and_another_layout_is_projected(bad_files, ckpt, node_env,  # noqa: F811
                                                                                 probe, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    files, marker = bad_files
    roots = f"{files['missing'].parent}:{ckpt.parent}"     # announcements are accepted from here only
    planner = NodeProcess.executable("planner_node", [*FAST_PLANNER, "-p", "autostart:=true",
                                                      "-p", "planner:=flat", "-p", f"model_path:={ckpt}",
                                                      "-p", f"checkpoint_dirs:={roots}"],
                                     node_env, tmp_path)
    feed = SensorFeed(probe).start()
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: any(moving(m) for m in ms), timeout=30.0, proc=planner)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        ann = probe.node.create_publisher(String, "/world_model/checkpoint", latched)
        for n, kind in enumerate(BAD, start=1):
            ann.publish(String(data=str(files[kind])))
            deadline = time.monotonic() + 20.0
            while planner.log().count("not loaded, keeping the current model") < n:
                assert time.monotonic() < deadline and planner.alive(), planner.log()[-3000:]
                time.sleep(0.05)
            assert f"{files[kind]}" in planner.log() and "not loaded" in planner.log()
            assert REASON.get(kind, "") in planner.log(), kind
            probe.clear("/cmd_vel_nav")
            probe.wait_for("/cmd_vel_nav", lambda ms: sum(moving(m) for m in ms) >= 3, proc=planner)
        assert not marker.exists(), "the crafted pickle executed code in planner_node"
        # the bomb was refused before it expanded: the planner's peak memory stayed far below 1 GiB
        assert _peak_rss_mib(planner) < 900, _peak_rss_mib(planner)
        # a valid checkpoint for another scan layout loads, and the robot's 180-beam scan is
        # projected onto its 90 beams (sensor_check.resample_scan): the planner keeps driving
        ann.publish(String(data=str(files["layout90"])))
        wait_log(planner, f"hot-reloaded world model {files['layout90']}")
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/cmd_vel_nav", lambda ms: sum(moving(m) for m in ms) >= 3, proc=planner)
        assert planner.alive()
    finally:
        feed.stop()
        planner.stop()


def _peak_rss_mib(proc) -> float:
    """Peak resident memory (VmHWM) of a node process, MiB."""
    kib = peak_rss_kib(proc.proc.pid)
    return float("nan") if kib is None else kib / 1024
