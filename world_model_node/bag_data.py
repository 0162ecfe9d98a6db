"""rosbag2 recordings as world-model transitions: :func:`load_bag` resamples a bag of any storage
(core.bag_io) onto the model's step grid, in the format of world_model_node.data (whose
``load_dataset`` reads bags through it). Warnings go to the data module's logger
(``world_model_planner.world_model_node.data``)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.params import CMD_TIMEOUT_S
from world_model_planner.core.rosconv import stamp_to_sec, yaw_of
from world_model_planner.world_model_node.data import CORE, FORMAT_VERSION, IMAGE_SIZE, DataError, Transitions, log

#: A header stamp further than this from the receive time (after the median clock offset) is
#: absurd: the row uses the receive time instead.
ABSURD_STAMP_S = 60.0


def load_mcap(path, dt_s: float = 0.1, odom_topic: str = "/odom", scan_topic: str = "/scan",
              cmd_topic: str = "/cmd_vel", **kw) -> Transitions:
    """One bag with the topics given by name (kept for callers of the MCAP-only loader)."""
    from world_model_planner.core.bag_io import TopicMap

    return load_bag(path, dt_s=dt_s, topics=TopicMap(odom=odom_topic, scan=scan_topic, cmd=cmd_topic), **kw)


def load_bag(path, dt_s: float = 0.1, topics=None, max_odom_age_s: float = 0.25,
             max_scan_age_s: float = 0.5, cmd_timeout_s: float = CMD_TIMEOUT_S, first_episode: int = 0,
             min_cmd_fraction: float = 0.2, max_image_age_s: float = 0.5,
             image_size: int = IMAGE_SIZE) -> Transitions:
    """Resample a bag (odometry, scan, command[, camera, /diagnostics]) onto a dt_s grid.

    ``topics`` (core.bag_io.TopicMap, default /odom, /scan, /cmd_vel) names the topics. Times
    are header stamps (the recording's ROS clock). A message without a header (plain Twist), or
    whose stamp is zero, non-finite or more than ABSURD_STAMP_S away from its receive time
    (shifted onto the stamp clock by the median odometry offset), takes that receive time; the
    fallbacks are counted in a warning. Each row takes the latest odom, scan and command at or
    before its time; a command older than cmd_timeout_s counts as zero (the mux/robot would have
    stopped). A grid time is dropped when its latest odom is older than max_odom_age_s, its
    latest scan older than max_scan_age_s, or the next odom comes more than max_odom_age_s after
    it; rows after a gap form a new episode. With ``topics.image`` set, each row also takes the
    latest sensor_msgs/Image at or before its time (dropped when older than max_image_age_s), as
    an (image_size, image_size, 3) RGB frame (core.rosconv.image_rgb: centre square, area
    resampled; rgb8, bgr8, rgba8, bgra8 and mono8; another encoding refuses the bag with a
    DataError naming it). Collision flags come from /diagnostics "sim"
    ``in_contact`` when recorded, else they are 0 (unknown).

    How many rows carry a command is logged (info), and warned about below ``min_cmd_fraction``;
    ``meta["cmd_rows"]`` keeps the count. Bags are read by core.bag_io.BagReader (rosbags;
    uncompressed MCAP within McapScan's limits, a killed recorder's file up to the cut).
    Messages of an unexpected type, undecodable payloads, odometry with non-finite or
    implausible values and scans whose header fails ``sensor_check.check_scan_header`` are
    skipped, with one warning that counts them. When the odometry or scan topic is missing, the
    error lists the topics the bag holds, with their types.
    """
    from world_model_planner.core.bag_io import BagError, BagReader, TopicMap
    from world_model_planner.core.rosconv import IMAGE_ENCODINGS, image_rgb
    from world_model_planner.core.sensor_check import SensorLimits, check_odom, check_scan_header

    path = Path(path)
    tm = topics or TopicMap()
    allowed = {tm.odom: ("nav_msgs/msg/Odometry",), tm.scan: ("sensor_msgs/msg/LaserScan",),
               tm.cmd: ("geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/Twist")}
    if tm.image:
        allowed[tm.image] = ("sensor_msgs/msg/Image",)
    allowed.setdefault("/diagnostics", ("diagnostic_msgs/msg/DiagnosticArray",))
    limits = SensorLimits()
    odom, scans, cmds, contact, images = [], [], [], [], []
    skipped = 0
    range_max = None

    def stamp(msg):
        h = getattr(msg, "header", None)
        if h is None:
            return None
        t = stamp_to_sec(h.stamp)
        return t if math.isfinite(t) and t > 0 else math.nan    # zero or broken: receive time

    try:
        rec = BagReader(path)
        for m in rec.messages(allowed):
            msg, topic, log_t = m.msg, m.topic, m.log_time_ns * 1e-9
            if topic == tm.odom:
                p, tw = msg.pose.pose, msg.twist.twist
                row = [stamp(msg), log_t, p.position.x, p.position.y, yaw_of(p.orientation),
                       tw.linear.x, tw.angular.z]
                if check_odom(row[2:5], row[5:7], limits):
                    skipped += 1
                    continue
                odom.append(row)
            elif topic == tm.scan:
                geom, _ = check_scan_header(msg.angle_min, msg.angle_max, msg.angle_increment,
                                            msg.range_min, msg.range_max, len(msg.ranges), limits)
                if geom is None:
                    skipped += 1
                    continue
                scans.append([stamp(msg), log_t, np.asarray(msg.ranges, dtype=np.float32)])
                range_max = float(msg.range_max)
            elif topic == tm.cmd:
                tw = msg.twist if hasattr(msg, "twist") else msg
                if not (math.isfinite(tw.linear.x) and math.isfinite(tw.angular.z)):
                    skipped += 1
                    continue
                cmds.append([stamp(msg), log_t, tw.linear.x, tw.angular.z])
            elif topic == tm.image:
                if msg.encoding not in IMAGE_ENCODINGS:
                    raise DataError(f"{path}: {tm.image}: image encoding {str(msg.encoding)[:40]!r} is not read; "
                                    f"expected one of {', '.join(IMAGE_ENCODINGS)}")
                try:
                    images.append([stamp(msg), log_t, image_rgb(msg, image_size)])
                except ValueError:
                    skipped += 1
            else:
                for name, kv in diag.statuses(msg):
                    if name == diag.SIM.name and diag.SIM.in_contact in kv:
                        contact.append([stamp(msg), log_t, diag.SIM.in_contact.read(kv) is True])
    except BagError as exc:
        raise DataError(str(exc)) from None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else in a damaged file: one line naming it
        raise DataError(f"{path}: cannot read bag: {type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]}") from None
    skipped += rec.skipped
    if rec.recovery or skipped:
        log.warning(f"{path}: {rec.recovery or 'complete recording'}"
                    + (f"; {skipped} unusable message(s) skipped" if skipped else ""))
    if len(odom) < 2 or not scans:
        raise DataError(f"{path}: expected {tm.odom} (nav_msgs/msg/Odometry) and {tm.scan} "
                        f"(sensor_msgs/msg/LaserScan) messages, got {len(odom)} odom and {len(scans)} scans; "
                        f"the bag holds: {rec.describe()} (map topics with --topics odom=/x,scan=/y,cmd=/z)")
    if tm.image and not images:
        raise DataError(f"{path}: expected {tm.image} (sensor_msgs/msg/Image) messages, got none usable; "
                        f"the bag holds: {rec.describe()} (map the camera with --image-topic /x)")
    # one clock: header stamps where sane, else the receive time shifted by the median offset
    good = [o[0] - o[1] for o in odom if o[0] is not None and math.isfinite(o[0])]
    off = float(np.median(good)) if good else 0.0
    fallbacks = {}

    def resolve(rows, name):
        n = 0
        for r in rows:
            guess = r[1] + off
            if r[0] is None:               # no header (a plain Twist): the receive time
                r[0] = guess
            elif not abs(r[0] - guess) <= ABSURD_STAMP_S:   # zero, broken or absurd stamp
                n += 1
                r[0] = guess
        if n:
            fallbacks[name] = n

    resolve(odom, "odom")
    resolve(scans, "scan")
    resolve(cmds, "cmd")
    resolve(contact, "diagnostics")
    resolve(images, "image")
    if fallbacks:
        log.warning(f"{path}: zero or absurd header stamps replaced by the receive time: "
                    + ", ".join(f"{n} {k}" for k, n in fallbacks.items()))
    odom_a = np.array(sorted(tuple(o[:1] + o[2:]) for o in odom))
    scans = sorted(((s[0], s[2]) for s in scans), key=lambda s: s[0])
    scan_t = np.array([s[0] for s in scans])
    cmd_a = np.array(sorted((c[0], c[2], c[3]) for c in cmds)) if cmds else np.zeros((0, 3))
    cont_a = np.array(sorted((c[0], float(c[2])) for c in contact)) if contact else np.zeros((0, 2))
    images.sort(key=lambda m: m[0])
    image_t = np.array([m[0] for m in images]) if images else None
    frames = []

    t0, t1 = max(odom_a[0, 0], scan_t[0], image_t[0] if images else -np.inf), odom_a[-1, 0]
    grid = np.arange(t0, t1 + 1e-9, dt_s)
    rows = {k: [] for k in CORE}      # labels (ground, payload, ...) stay unknown: nan
    episode, last_valid = first_episode, None
    ep_start = grid[0] if len(grid) else 0.0
    eps = 1e-6  # stamps and grid times are floats: "at or before" with a little slack
    with_cmd, ep_cmd = 0, {}
    for t in grid:
        i = np.searchsorted(odom_a[:, 0], t + eps, side="right") - 1
        j = np.searchsorted(scan_t, t + eps, side="right") - 1
        # valid: recent odom and scan, and the recording goes on (no gap right after t)
        if i < 0 or j < 0 or t - odom_a[i, 0] > max_odom_age_s or t - scan_t[j] > max_scan_age_s or (
                t - odom_a[i, 0] > eps and (i + 1 >= len(odom_a) or odom_a[i + 1, 0] - t > max_odom_age_s)):
            last_valid = None
            continue
        if images:
            m = np.searchsorted(image_t, t + eps, side="right") - 1
            if m < 0 or t - image_t[m] > max_image_age_s:
                last_valid = None
                continue
            frames.append(images[m][2])
        if last_valid is None and rows["episode"]:
            episode += 1
            ep_start = t
        last_valid = t
        k = np.searchsorted(cmd_a[:, 0], t + eps, side="right") - 1 if len(cmd_a) else -1
        fresh = k >= 0 and t - cmd_a[k, 0] <= cmd_timeout_s
        with_cmd += bool(fresh)
        ep_cmd[episode] = ep_cmd.get(episode, 0) + bool(fresh)
        cmd = cmd_a[k, 1:] if fresh else np.zeros(2)
        c = 0
        if len(cont_a):  # any contact report in [t, t + dt)
            sel = (cont_a[:, 0] >= t - eps) & (cont_a[:, 0] < t + dt_s - eps)
            c = int(cont_a[sel, 1].any())
        rows["pose"].append(odom_a[i, 1:4])
        rows["vel"].append(odom_a[i, 4:6])
        rows["scan"].append(scans[j][1])
        rows["cmd"].append(cmd)
        rows["dt"].append(dt_s)
        rows["collision"].append(c)
        rows["episode"].append(episode)
        rows["t_s"].append(t - ep_start)
    if not rows["pose"]:
        raise DataError(f"{path}: no time where both odom and scan were recorded")
    beams = {len(s) for s in rows["scan"]}
    if len(beams) != 1:
        raise DataError(f"{path}: scans change beam count during the recording ({sorted(beams)})")
    n_rows = len(rows["pose"])
    frac = with_cmd / n_rows
    line = (f"{path}: {with_cmd} of {n_rows} rows ({100 * frac:.0f}%) carry a command from {tm.cmd} "
            f"({len(cmds)} messages)")
    if frac < min_cmd_fraction:
        log.warning(line + f"; below {100 * min_cmd_fraction:.0f}%: check --topics cmd=..., the command "
                    "type and its stamps (rows without a command within "
                    f"{cmd_timeout_s:g} s train as 'stopped')")
    else:
        log.info(line)
    dtypes = {"episode": np.int32, "collision": np.uint8}
    arrs = {k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in rows.items()}
    meta = {"format_version": FORMAT_VERSION, "dt_s": dt_s, "range_max_m": range_max,
            "scan_beams": beams.pop(), "source": str(path), "cmd_rows": with_cmd, "topics": str(tm),
            "episodes": {str(e): {"scenario": "recording", "seed": None, "cmd_rows": ep_cmd.get(int(e), 0)}
                         for e in np.unique(arrs["episode"])}}
    image = np.stack(frames).astype(np.uint8) if images else None
    return Transitions(**arrs, image=image, meta=meta)
