"""`--data` reads rosbag2 bags written by an independent writer (rosbags): every storage and
compression, single files, folders of bags, renamed topics, zero and absurd stamps, Twist and
TwistStamped, camera images."""
from __future__ import annotations

import logging
import math
import shutil

import numpy as np
import pytest

pytest.importorskip("rosbags")

from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from world_model_planner.core.bag_io import BagError, TopicMap, find_inputs  # noqa: E402
from world_model_planner.core.mcap_io import RecordingError  # noqa: E402
from world_model_planner.core.rosconv import image_rgb  # noqa: E402
from world_model_planner.world_model_node.data import (IMAGE_SIZE, DataError, Transitions, load_dataset,  # noqa: E402
                                                       save_shard)

TS = get_typestore(Stores.ROS2_JAZZY)
T = TS.types
N_ODOM = 60          # 3 s of odometry at 20 Hz
LOG0_NS = 1_700_000_000 * 10**9     # the receive clock (wall time) differs from the stamp clock


def _time(t: float):
    return T["builtin_interfaces/msg/Time"](sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))


def _header(t: float, frame="odom"):
    return T["std_msgs/msg/Header"](stamp=_time(t), frame_id=frame)


def _vec(x=0.0, y=0.0, z=0.0):
    return T["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def _odom(t, x, yaw):
    G = T
    pose = G["geometry_msgs/msg/PoseWithCovariance"](
        pose=G["geometry_msgs/msg/Pose"](position=G["geometry_msgs/msg/Point"](x=x, y=1.0, z=0.0),
                                         orientation=G["geometry_msgs/msg/Quaternion"](
                                             x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))),
        covariance=np.zeros(36))
    twist = G["geometry_msgs/msg/TwistWithCovariance"](
        twist=G["geometry_msgs/msg/Twist"](linear=_vec(0.5), angular=_vec(z=0.3)), covariance=np.zeros(36))
    return G["nav_msgs/msg/Odometry"](header=_header(t), child_frame_id="base_link", pose=pose, twist=twist)


def _scan(t, value):
    return T["sensor_msgs/msg/LaserScan"](
        header=_header(t, "base_link"), angle_min=-math.pi, angle_max=math.pi, angle_increment=2 * math.pi / 8,
        time_increment=0.0, scan_time=0.1, range_min=0.1, range_max=8.0,
        ranges=np.array([value] * 7 + [math.inf], np.float32), intensities=np.zeros(0, np.float32))


def _cmd(t, stamped: bool, cmd_stamp: float | None):
    tw = T["geometry_msgs/msg/Twist"](linear=_vec(0.6), angular=_vec(z=-0.2))
    if not stamped:
        return tw
    return T["geometry_msgs/msg/TwistStamped"](header=_header(t if cmd_stamp is None else cmd_stamp, "base_link"),
                                               twist=tw)


#: Camera frames: 8 wide, 4 high (the loader keeps the centred 4x4 square, columns 2..5).
IMG_W, IMG_H = 8, 4
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "yuv422": 2}


def _frame(k: int) -> np.ndarray:
    """(IMG_H, IMG_W, 3) RGB of frame k: R = 10 k + column, G = 20 row, B = 200."""
    y, x = np.mgrid[0:IMG_H, 0:IMG_W]
    return np.stack([10 * k + x, 20 * y, np.full_like(x, 200)], -1).astype(np.uint8)


def _image(t, k, encoding):
    rgb = _frame(k)
    px = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "rgba8": np.dstack([rgb, np.full_like(rgb[..., :1], 9)]),
          "bgra8": np.dstack([rgb[..., ::-1], np.full_like(rgb[..., :1], 9)]), "mono8": rgb[..., :1],
          "yuv422": rgb[..., :2]}[encoding]
    ch = CHANNELS[encoding]
    return T["sensor_msgs/msg/Image"](header=_header(t, "camera"), height=IMG_H, width=IMG_W, encoding=encoding,
                                      is_bigendian=0, step=IMG_W * ch, data=np.ascontiguousarray(px).reshape(-1))


def write_bag(path, storage="mcap", compression=None, names=None, stamped=True, cmd_stamp=None, image=None):
    """A 3 s rosbag2 bag: odom 20 Hz, scan 10 Hz, command 20 Hz; stamps from 100 s.
    ``compression``: a rosbags CompressionMode (zstd); ``cmd_stamp``: every command's header stamp
    (seconds; None = the true time); ``image``: an encoding, adds /camera/image_raw at 10 Hz
    (frame k with the k-th scan, :func:`_frame`)."""
    names = {"odom": "/odom", "scan": "/scan", "cmd": "/cmd_vel", **(names or {})}
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    cmd_type = "geometry_msgs/msg/TwistStamped" if stamped else "geometry_msgs/msg/Twist"
    writer = Writer(path, version=9, storage_plugin=plugin)
    if compression:
        writer.set_compression(compression, CompressionFormat.ZSTD)
    with writer as w:
        conns = {"odom": w.add_connection(names["odom"], "nav_msgs/msg/Odometry", typestore=TS),
                 "scan": w.add_connection(names["scan"], "sensor_msgs/msg/LaserScan", typestore=TS),
                 "cmd": w.add_connection(names["cmd"], cmd_type, typestore=TS),
                 "other": w.add_connection("/tf_static_like", "std_msgs/msg/String", typestore=TS)}
        if image:
            conns["image"] = w.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=TS)
        for i in range(N_ODOM):
            t = 100.0 + 0.05 * i
            log = LOG0_NS + i * 50_000_000
            w.write(conns["odom"], log, TS.serialize_cdr(_odom(t, 0.5 * (t - 100.0), 0.1 * i), "nav_msgs/msg/Odometry"))
            w.write(conns["cmd"], log, TS.serialize_cdr(_cmd(t, stamped, cmd_stamp), cmd_type))
            if i % 2 == 0:
                w.write(conns["scan"], log, TS.serialize_cdr(_scan(t, float(i)), "sensor_msgs/msg/LaserScan"))
                if image:
                    w.write(conns["image"], log, TS.serialize_cdr(_image(t, i // 2, image), "sensor_msgs/msg/Image"))
    return path


def _compressed_writer(path, storage, mode):
    return write_bag(path, storage, compression=mode)


def _check(tr: Transitions, cmd=(0.6, -0.2)):
    assert tr.scan.shape[1] == 8 and tr.meta["range_max_m"] == 8.0
    assert len(tr) == 30                           # 2.95 s at 0.1 s
    np.testing.assert_allclose(tr.pose[:, 0], 0.05 * np.arange(30), atol=1e-5)
    np.testing.assert_allclose(tr.vel[0], [0.5, 0.3], atol=1e-6)
    np.testing.assert_allclose(tr.cmd, np.tile(cmd, (30, 1)), atol=1e-6)
    assert np.isinf(tr.scan[0, 7])
    assert tr.stats()["cmd_rows"] == 30


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_rosbag2_directory_of_either_storage_loads(tmp_path, storage):
    bag = write_bag(tmp_path / "bag", storage)
    _check(load_dataset(bag))
    _check(load_dataset(bag / "metadata.yaml"))          # the metadata file names its bag


@pytest.mark.parametrize("storage,mode", [("mcap", CompressionMode.FILE), ("sqlite3", CompressionMode.FILE),
                                          ("mcap", CompressionMode.MESSAGE)])
def test_compressed_bags_load(tmp_path, storage, mode):
    bag = _compressed_writer(tmp_path / "bag", storage, mode)
    if mode == CompressionMode.FILE:
        assert list(bag.glob("*.zstd"))
    _check(load_dataset(bag))


def test_single_storage_files_load(tmp_path):
    for storage, suffix in (("mcap", ".mcap"), ("sqlite3", ".db3")):
        bag = write_bag(tmp_path / storage, storage)
        (f,) = bag.glob(f"*{suffix}")
        lone = shutil.copy(f, tmp_path / f"lone{suffix}")
        _check(load_dataset(lone))
    zbag = _compressed_writer(tmp_path / "z", "mcap", CompressionMode.FILE)
    (zf,) = zbag.glob("*.mcap.zstd")
    _check(load_dataset(shutil.copy(zf, tmp_path / "lone.mcap.zstd")))


def test_folder_of_bags_and_shards_is_searched_recursively(tmp_path):
    root = tmp_path / "data"
    write_bag(root / "robot_a" / "monday", "mcap")
    write_bag(root / "robot_b" / "tuesday", "sqlite3")
    lone = write_bag(tmp_path / "x", "mcap")
    shutil.copy(next(lone.glob("*.mcap")), root / "robot_b" / "loose.mcap")
    shard = load_dataset(write_bag(tmp_path / "y", "mcap"))
    (root / "sim").mkdir()
    save_shard(root / "sim" / "shard_00000.npz", shard)
    shards, bags = find_inputs(root)
    assert len(shards) == 1 and len(bags) == 3
    tr = load_dataset(root)
    assert len(tr) == 4 * 30 and len(tr.episodes) == 4        # every source its own episode


def test_renamed_topics_are_mapped_and_missing_ones_listed(tmp_path):
    bag = write_bag(tmp_path / "bag", names={"odom": "/robot/odom", "scan": "/front/scan", "cmd": "/cmd_vel_out"})
    with pytest.raises(DataError) as err:
        load_dataset(bag)
    msg = str(err.value)
    assert "expected /odom" in msg and "/robot/odom (nav_msgs/msg/Odometry, 60 msgs)" in msg
    assert "/front/scan (sensor_msgs/msg/LaserScan" in msg and "\n" not in msg
    tm = TopicMap.parse("odom=/robot/odom,scan=/front/scan", cmd="/cmd_vel_out")
    _check(load_dataset(bag, topics=tm))


def test_topic_map_refuses_bad_entries():
    with pytest.raises(ValueError, match="KEY=/topic"):
        TopicMap.parse("odometry=/odom")
    with pytest.raises(ValueError, match="absolute ROS topic"):
        TopicMap.parse("odom=robot/odom")
    assert str(TopicMap.parse("scan=/front/scan")) == "odom=/odom,scan=/front/scan,cmd=/cmd_vel"


@pytest.mark.parametrize("stamped,cmd_stamp", [(True, 0.0), (True, 5.0), (True, 2.0e9), (False, None)],
                         ids=["zero", "1970+5s", "year2033", "plain-twist"])
def test_zero_absurd_stamps_and_plain_twist_use_the_receive_time(tmp_path, stamped, cmd_stamp, caplog):
    bag = write_bag(tmp_path / "bag", stamped=stamped, cmd_stamp=cmd_stamp)
    with caplog.at_level(logging.INFO, logger="world_model_planner.world_model_node.data"):
        tr = load_dataset(bag)
    _check(tr)                                          # every row keeps its command
    text = caplog.text
    assert "30 of 30 rows (100%) carry a command" in text
    assert ("60 cmd" in text) == stamped                # bad stamps fell back; a plain Twist needs none


def test_few_commanded_rows_warn(tmp_path, caplog):
    bag = write_bag(tmp_path / "bag", names={"cmd": "/elsewhere"})
    with caplog.at_level(logging.WARNING, logger="world_model_planner.world_model_node.data"):
        tr = load_dataset(bag)
    assert tr.stats()["cmd_rows"] == 0 and not tr.cmd.any()
    assert "0 of 30 rows (0%) carry a command from /cmd_vel" in caplog.text and "below 20%" in caplog.text


def test_unreadable_files_are_named_with_what_was_expected(tmp_path):
    db3 = tmp_path / "broken.db3"
    db3.write_bytes(b"this is not sqlite at all" * 10)
    with pytest.raises(DataError, match=r"broken\.db3: not a readable sqlite3"):
        load_dataset(db3)
    meta = tmp_path / "bag" / "metadata.yaml"
    meta.parent.mkdir()
    meta.write_text("rosbag2_bagfile_information: {version: 9, storage_identifier: sqlite3}\n")
    with pytest.raises(DataError, match="not a readable rosbag2 directory") as err:
        load_dataset(meta)
    assert "pickle" not in str(err.value)
    odd = tmp_path / "data.bin"
    odd.write_bytes(b"\x00\x01junk")
    with pytest.raises(DataError, match=r"data\.bin: unknown file type .*expected npz shards, rosbag2"):
        load_dataset(odd)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="no data found"):
        find_inputs(tmp_path / "empty")


def test_compare_loader_reads_bags_with_mapped_topics(tmp_path):
    from world_model_planner.teleop.session_data import load_session

    bag = write_bag(tmp_path / "bag", "sqlite3", names={"odom": "/robot/odom", "scan": "/front/scan",
                                                        "cmd": "/cmd_vel_out"})
    with pytest.raises(RecordingError, match="no usable /odom"):
        load_session(bag)
    data = load_session(bag / "metadata.yaml", topics=TopicMap.parse("odom=/robot/odom,scan=/front/scan,"
                                                                     "cmd=/cmd_vel_out"))
    assert len(data.odom) == N_ODOM and data.scans.shape == (N_ODOM // 2 - 1, 8)
    assert data.invalid == {"/scan": 1}                  # the first scan's ranges (0 m) are below range_min
    np.testing.assert_allclose(data.cmds["/cmd_vel"][:, 1:], np.tile([0.6, -0.2], (N_ODOM, 1)), atol=1e-6)


@pytest.mark.parametrize("storage,encodings", [("mcap", ("rgb8", "bgra8", "mono8")), ("sqlite3", ("bgr8", "rgba8"))])
def test_camera_images_land_in_the_rows(tmp_path, storage, encodings):
    """Each row takes the latest frame at or before it, as the sim's camera data stores it:
    IMAGE_SIZE x IMAGE_SIZE RGB, the centred square of the frame."""
    from world_model_planner.sim.robots import HUSKY
    from world_model_planner.sim.sensors import CameraConfig

    # the Husky's camera, which the camera model was trained on (the model's side: test_wm_camera)
    assert CameraConfig().size(HUSKY.camera) == (IMAGE_SIZE, IMAGE_SIZE)
    tm = TopicMap.parse(None, image="/camera/image_raw")
    for enc in encodings:
        tr = load_dataset(write_bag(tmp_path / enc, storage, image=enc), topics=tm)
        _check(tr)
        assert tr.image.shape == (30, IMAGE_SIZE, IMAGE_SIZE, 3) and tr.image.dtype == np.uint8
        block = IMAGE_SIZE // IMG_H              # each source pixel of the 4x4 square, enlarged
        for r in (0, 17, 29):                    # row r (t = 100 + 0.1 r s) holds frame r
            want = _frame(r)[:, 2:6].repeat(block, 0).repeat(block, 1)
            if enc == "mono8":
                want = np.repeat(want[..., :1], 3, -1)
            np.testing.assert_array_equal(tr.image[r], want, err_msg=f"{enc} row {r}")
    without = load_dataset(tmp_path / encodings[0])   # no --image-topic: no frames
    assert without.image is None and len(without) == 30


def test_camera_encoding_and_topic_are_checked(tmp_path):
    tm = TopicMap.parse(None, image="/camera/image_raw")
    with pytest.raises(DataError, match=r"/camera/image_raw: image encoding 'yuv422' is not read; "
                                        r"expected one of rgb8, bgr8, rgba8, bgra8, mono8"):
        load_dataset(write_bag(tmp_path / "yuv", image="yuv422"), topics=tm)
    with pytest.raises(DataError, match=r"expected /front_cam \(sensor_msgs/msg/Image\).*"
                                        r"/camera/image_raw \(sensor_msgs/msg/Image, 30 msgs\)"):
        load_dataset(tmp_path / "yuv", topics=TopicMap.parse(None, image="/front_cam"))


def test_large_frames_are_area_averaged_to_the_data_size():
    """A 192x128 frame: the centred 128x128 square, each output pixel the mean of 2x2 pixels."""
    y, x = np.mgrid[0:128, 0:192]
    rgb = np.stack([(x // 2) % 2 * 255, (x % 2) * 100, (y // 2) % 2 * 50], -1).astype(np.uint8)
    msg = T["sensor_msgs/msg/Image"](header=_header(1.0), height=128, width=192, encoding="rgb8",
                                     is_bigendian=0, step=192 * 3 + 4,     # row padding is skipped
                                     data=np.pad(rgb.reshape(128, -1), ((0, 0), (0, 4))).reshape(-1))
    out = image_rgb(msg, 64)
    j = np.arange(64)
    np.testing.assert_array_equal(out[0, :, 0], (16 + j) % 2 * 255)    # crop starts at column 32
    np.testing.assert_array_equal(out[:, :, 1], 50)                       # 0 and 100 averaged
    np.testing.assert_array_equal(out[:, 0, 2], j % 2 * 50)
    with pytest.raises(ValueError, match="expected step >= 576 and 73728 data bytes, got 100"):
        image_rgb(T["sensor_msgs/msg/Image"](header=_header(1.0), height=128, width=192, encoding="rgb8",
                                             is_bigendian=0, step=576, data=np.zeros(100, np.uint8)), 64)
