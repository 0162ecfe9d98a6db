"""A person's side of ``wmp session``: the start gate, the keys, and the live map.

:class:`PersonConsole` lives on the session monitor's node. It owns this terminal through
:class:`world_model_planner.teleop.tui.TerminalView` (curses): it draws the map
(:func:`world_model_planner.teleop.tui.render`) at ``DRAW_HZ``, reads the keys, and, with the
keyboard as input device, turns them into /cmd_vel_teleop commands (the keymap of
:mod:`world_model_planner.teleop.keymap`, stamped with the /odom time they act on, like the
scripted operator). With a joystick (``teleop_joy`` in the stack) the keys only start and quit.

The start gate: the sim starts paused (sim_node ``start_paused``); the console shows "press
any key to start", then counts down; :meth:`PersonConsole.gate` returns when it is time to
unpause. The movers (sim_node's sim/movers, in the /odom frame) are drawn as their shapes.
The current frame is also written, as plain text, to ``screen_path`` (atomically,
twice a second and at the end), so a record of what the person saw stays beside the recording.
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from world_model_planner.core.rosconv import odom_arrays, twist_msg
from world_model_planner.core.safeio import atomic_write_text

#: Map redraws per second (wall).
DRAW_HZ = 15.0
#: The plain-text copy of the screen is rewritten this often (wall s).
SCREEN_FILE_S = 0.5
#: Path points closer than this to the last one are not added (m).
PATH_STEP_M = 0.05
#: sim/movers: at most this many markers are drawn; a side longer than this is refused (m).
MAX_MOVER_MARKERS, MAX_MOVER_SIDE_M = 200, 20.0


class PersonConsole:
    def __init__(self, node, scenario, title: str, *, keyboard: bool = True, shared: bool = False,
                 screen_path: Path | None = None, view=None):
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import LaserScan
        from std_msgs.msg import Bool
        from visualization_msgs.msg import MarkerArray

        from world_model_planner.sim.robots import ROBOTS
        from world_model_planner.teleop.keymap import KeyboardConfig, KeyTeleop, PublishGate
        from world_model_planner.teleop.tui import MapState, TerminalView

        spec = ROBOTS[scenario.robot]
        self.state = MapState(scenario, (spec.length_m, spec.width_m), title=title,
                              interventions=0 if shared else None)
        if not keyboard:
            self.state.keys = "joystick: hold the dead-man button to drive   q: quit"
        self.keyboard = keyboard
        self.cfg = KeyboardConfig()
        self.tele, self.pub_gate = KeyTeleop(self.cfg), PublishGate(self.cfg.stop_repeat_s)
        self.screen_path = screen_path
        self._lock = threading.Lock()
        self._odom = None          # (t, x, y, yaw, v)
        self._stamp = None
        self._scan = None          # (angles, ranges)
        self._movers: dict = {}    # (ns, id) -> tui.Mover
        self._intervening = False
        self.interventions = 0
        self.counting = False      # interventions count from go
        self._next_draw = self._next_file = 0.0
        self.quit = False
        best = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node = node
        self.pub = node.create_publisher(TwistStamped, "/cmd_vel_teleop", 10) if keyboard else None
        node.create_subscription(Odometry, "/odom", self._on_odom, best)
        node.create_subscription(LaserScan, "/scan", self._on_scan, best)
        node.create_subscription(MarkerArray, "/sim/movers", self._on_movers, best)
        node.create_subscription(Bool, "/mux/intervention", self._on_intervention, latched)
        self.view = view if view is not None else TerminalView()

    # ---------------------------------------------------------------- inputs (spin thread)
    def _on_odom(self, msg) -> None:
        t, pose, vel = odom_arrays(msg)
        if not all(math.isfinite(float(v)) for v in (*pose, *vel)):
            return
        with self._lock:
            self._odom = (t, float(pose[0]), float(pose[1]), float(pose[2]), float(vel[0]))
            self._stamp = msg.header.stamp

    def _on_scan(self, msg) -> None:
        import numpy as np

        r = np.asarray(msg.ranges, dtype=float)
        a = msg.angle_min + msg.angle_increment * np.arange(len(r))
        ok = np.isfinite(r) & (r >= msg.range_min) & (r <= msg.range_max)
        with self._lock:
            self._scan = (a[ok], r[ok])

    def _on_movers(self, msg) -> None:
        movers, error = movers_from_markers(msg, dict(self._movers))
        with self._lock:
            self._movers = movers
            if error:
                self.state.note = error

    def _on_intervention(self, msg) -> None:
        with self._lock:
            if msg.data and not self._intervening and self.counting:
                self.interventions += 1
            self._intervening = bool(msg.data)

    # ---------------------------------------------------------------- the loop's side
    def gate(self, stack, countdown_s: int, time_limit_s: float) -> bool:
        """"Press any key to start", then the countdown; the sim stays paused meanwhile.
        False when the person quit (q) at the gate."""
        self.state.time_left_s = time_limit_s
        self.state.banner = "press any key to start   (q: quit)"
        while True:
            stack.check()
            keys = self._keys()
            if keys:
                if keys[0] == "quit":
                    self.quit = True
                    return False
                break
            self.update(time.monotonic())
            time.sleep(0.02)
        end = time.monotonic() + max(0, int(countdown_s))
        while (left := end - time.monotonic()) > 0:
            stack.check()
            if "quit" in self._keys():
                self.quit = True
                return False
            self.state.banner = f"starting in {math.ceil(left)}"
            self.update(time.monotonic())
            time.sleep(0.02)
        self.state.banner = ""
        return True

    def _keys(self) -> list[str]:
        from world_model_planner.teleop.tui import key_names

        return key_names(self.view.keys())

    def step(self, now: float, time_left_s: float | None, collisions: int) -> None:
        """One pass of the session loop: keys -> command, publish at the keyboard rate, redraw."""
        keys = self._keys()
        if self.keyboard:
            for key in keys:
                self.tele.press(key)
            self.quit = self.tele.quit
            cmd = self.tele.command()
            if now >= getattr(self, "_next_pub", 0.0) or keys:
                if self.pub_gate.should_publish(cmd, now):
                    self._publish(*cmd)
                self._next_pub = now + 1.0 / self.cfg.rate_hz
            v, w = cmd
            self.state.command = f"v {v:+.2f} w {w:+.2f} [{self.tele.step}/{self.cfg.speed_steps}]"
        else:
            self.quit = "quit" in keys
        self.state.time_left_s = time_left_s
        self.state.collisions = collisions
        self.update(now)

    def update(self, now: float, force: bool = False) -> None:
        """Refresh the state from the latest messages and redraw when due."""
        import numpy as np

        if not force and now < self._next_draw:
            return
        period = 1.0 / DRAW_HZ     # a steady cadence: the loop's polling delay does not add up
        self._next_draw = self._next_draw + period if now - self._next_draw < period else now + period
        with self._lock:
            odom, scan, iv = self._odom, self._scan, self.interventions
            st_movers = list(self._movers.values())
        st = self.state
        if odom is not None:
            t, x, y, yaw, v = odom
            st.pose, st.sim_time_s, st.speed_mps = (x, y, yaw), t, v
            if self.counting and (not len(st.path) or math.hypot(x - st.path[-1][0], y - st.path[-1][1]) >= PATH_STEP_M):
                st.path = np.vstack([np.reshape(st.path, (-1, 2)), [(x, y)]])
            if scan is not None:
                a, r = scan
                st.scan_xy = np.c_[x + r * np.cos(yaw + a), y + r * np.sin(yaw + a)]
        st.movers = st_movers
        if st.interventions is not None:
            st.interventions = iv
        from world_model_planner.teleop.tui import render

        rows, cols = self.view.size()
        lines = render(st, rows, cols)
        self.view.draw(lines)
        if self.screen_path is not None and (force or now >= self._next_file):
            self._next_file = now + SCREEN_FILE_S
            atomic_write_text(self.screen_path, "\n".join(ln.rstrip() for ln in lines) + "\n")

    def _publish(self, v: float, w: float) -> None:
        with self._lock:
            stamp = self._stamp
        if self.pub is None or stamp is None or not self.node.context.ok():
            return
        self.pub.publish(twist_msg(v, w, True, stamp))

    def start(self) -> None:
        """Go: the path and the interventions count from here."""
        self.counting = True
        self.state.path = []

    def close(self, banner: str = "") -> None:
        """Leave the robot stopped (keyboard), draw the last frame, give the terminal back."""
        try:
            if self.keyboard:
                self.tele.press("stop")
                self._publish(0.0, 0.0)
            if banner:
                self.state.banner = banner
            self.update(time.monotonic(), force=True)
        finally:
            self.view.close()


def movers_from_markers(msg, movers: dict) -> tuple[dict, str | None]:
    """A sim/movers MarkerArray applied to ``movers`` ((ns, id) -> tui.Mover): DELETEALL clears,
    DELETE removes, ADD of a CYLINDER (a person) or a CUBE (a cart) sets. A marker that is not
    finite, too large or past MAX_MOVER_MARKERS is left out; the first such is named in the
    returned note (None when all were fine). Other marker types are ignored."""
    from visualization_msgs.msg import Marker

    from world_model_planner.core.rosconv import yaw_of
    from world_model_planner.teleop.tui import Mover

    error = None
    for i, m in enumerate(msg.markers):
        key = (m.ns, m.id)
        if m.action == Marker.DELETEALL:
            movers.clear()
        elif m.action == Marker.DELETE:
            movers.pop(key, None)
        elif m.action == Marker.ADD and m.type in (Marker.CYLINDER, Marker.CUBE):
            p, sx, sy = m.pose.position, float(m.scale.x), float(m.scale.y)
            yaw = yaw_of(m.pose.orientation)
            if not all(math.isfinite(v) and abs(v) <= 1e4 for v in (p.x, p.y, yaw)):
                error = error or (f"sim/movers: markers[{i}].pose: expected finite numbers, "
                                  f"got ({p.x}, {p.y}, {yaw})")
            elif not all(0.0 < v <= MAX_MOVER_SIDE_M for v in (sx, sy)):
                error = error or (f"sim/movers: markers[{i}].scale: expected sizes in (0, {MAX_MOVER_SIDE_M:g}] m, "
                                  f"got ({sx}, {sy})")
            elif key not in movers and len(movers) >= MAX_MOVER_MARKERS:
                error = error or f"sim/movers: expected at most {MAX_MOVER_MARKERS} movers; the rest are not drawn"
            else:
                person = m.type == Marker.CYLINDER
                movers[key] = Mover("person" if person else "cart", float(p.x), float(p.y), float(yaw), sx,
                                    sx if person else sy)
    return movers, error


def wait_sim_time_after(stack, mon, t_s: float, timeout_s: float = 30.0) -> None:
    """After unpausing: wait for an /odom stamped later than ``t_s``."""
    from world_model_planner.app.episode_parts import wait_for

    wait_for(stack, lambda: (mon.odom.last() or (t_s,))[0] > t_s, time.monotonic() + timeout_s,
             "the sim to run after the start gate")


def set_paused(node, paused: bool, timeout_s: float = 10.0) -> None:
    """sim_node's ~/pause; raises RuntimeError when it does not answer or refuses."""
    from std_srvs.srv import SetBool

    cli = node.create_client(SetBool, "/sim_node/pause")
    try:
        if not cli.wait_for_service(timeout_sec=timeout_s):
            raise RuntimeError("sim_node's ~/pause service did not appear")
        fut = cli.call_async(SetBool.Request(data=bool(paused)))
        end = time.monotonic() + timeout_s
        while not fut.done() and time.monotonic() < end:
            time.sleep(0.01)
        if not fut.done() or not fut.result().success:
            raise RuntimeError("sim_node did not " + ("pause" if paused else "resume"))
    finally:
        node.destroy_client(cli)

