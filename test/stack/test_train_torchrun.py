"""`wmp train` under torchrun (2 gloo processes on 127.0.0.1), killed mid-way and resumed under
torchrun, matches one process; a killed single-process run resumes from its state to the same
model as an uninterrupted one."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from world_model_planner.app.cli import main as wmp
from world_model_planner.testing.processes import child_pids
from world_model_planner.world_model_node.checkpoint import load_checkpoint

# 2 ranks x 4 windows each = the single process's 8 windows per step; gradients averaged by DDP.
# Every loss term but VICReg's batch statistics is a mean over windows, so with --no-vicreg the
# two runs take the same steps up to float summation order: after 6 AdamW steps the weights
# agree to DDP_ATOL (measured ~1e-7).
DDP_ATOL = 1e-5
TRAIN = ["--steps", "6", "--batch-size", "8", "--horizon", "3", "--eval-every", "2", "--no-vicreg",
         "--no-progress", "--device", "cpu", "--threads", "1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "data"
    assert wmp(["collect", "--scenario", "open", "--episodes", "3", "--episode-s", "3", "--seed", "5",
                "--out", str(out), "--no-progress"]) == 0
    return out


def _env(tmpdir: Path | None = None) -> dict:
    """``tmpdir``: TMPDIR for the processes (torchrun's agent keeps a torchelastic_* folder there,
    which a killed agent cannot remove)."""
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1", OMP_NUM_THREADS="1")
    if tmpdir is not None:
        Path(tmpdir).mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(path) -> dict:
    return {k: v.float() for k, v in load_checkpoint(path, device="cpu").state_dict().items()}


def _kill_torchrun(proc: subprocess.Popen) -> None:
    """SIGKILL the torchrun agent's process group and every rank, as a lost machine would."""
    ranks = child_pids(proc.pid)   # torchrun starts each rank in a session of its own
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in ranks:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for pid in ranks:             # gone before the resumed run starts
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.mark.slow
def test_torchrun_two_gloo_ranks_killed_and_resumed_match_one_process(data_dir, tmp_path):
    """2 ranks, killed (agent and ranks, SIGKILL) after their first state file and resumed under
    torchrun, end at the single process's weights: resuming restores the weights, optimiser,
    schedule and the sampling generator on every rank (rank 0 reads the state and broadcasts it),
    so the resumed ranks draw the batches the uninterrupted run would have drawn; the only
    difference left is DDP's float summation order (DDP_ATOL)."""
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    state = two.with_suffix(".state.pt")
    cli = [sys.executable, "-m", "world_model_planner.app.cli", "train", "--data", str(data_dir)]
    single = subprocess.run(cli + ["--out", str(one)] + TRAIN, env=_env(), capture_output=True, text=True,
                            timeout=400)
    assert single.returncode == 0, single.stderr[-2000:]

    def torchrun(*extra) -> list[str]:   # --tee 3: every output line carries its rank ([default0]:)
        return [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc-per-node=2",
                "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}", "--tee", "3",
                "-m", "world_model_planner.app.cli", "train", "--data", str(data_dir),
                "--out", str(two), *TRAIN, *extra]

    with open(tmp_path / "killed.log", "w+") as log:
        proc = subprocess.Popen(torchrun(), env=_env(tmp_path / "tmp"), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 400
        while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        _kill_torchrun(proc)
        log.seek(0)
        killed_log = log.read()
    assert state.is_file() and not two.exists(), f"the run ended before it could be killed:\n{killed_log[-2000:]}"
    cut = torch.load(state, weights_only=True)
    # rank 0 alone validates, so a state written by rank 1 would carry no history and no best model
    assert 2 <= cut["step"] < 6 and [h["step"] for h in cut["history"]] == list(range(2, cut["step"] + 1, 2))
    assert cut["best_state"] is not None

    ddp = subprocess.run(torchrun("--resume"), env=_env(tmp_path / "tmp"), capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, (ddp.stdout + ddp.stderr)[-3000:]
    assert not state.exists()                                           # finished: the state is gone
    out = ddp.stdout + ddp.stderr
    assert out.count("[default0]:saved ") == 1 and "[default1]:saved" not in out, out[-3000:]   # rank 0 alone
    a, b = _weights(one), _weights(two)
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= DDP_ATOL, f"largest weight difference {worst:.2e} > {DDP_ATOL}"
    init, resumed = load_checkpoint(one, device="cpu"), load_checkpoint(two, device="cpu")
    assert resumed.metrics["world_size"] == 2 and init.metrics["world_size"] == 1
    assert resumed.metrics["resumed_at_step"] == cut["step"] and init.metrics["resumed_at_step"] == 0
    ha, hb = init.metrics["history"], resumed.metrics["history"]
    assert [h["step"] for h in ha] == [h["step"] for h in hb] == [2, 4, 6]     # none lost, none repeated
    for x, y in zip(ha, hb):
        assert abs(x["val_score"] - y["val_score"]) <= 1e-4 * max(1.0, abs(x["val_score"]))


@pytest.mark.slow
def test_train_resumes_after_a_kill_to_the_same_model(data_dir, tmp_path):
    args = ["--steps", "80", "--batch-size", "8", "--horizon", "3", "--eval-every", "4", "--no-progress",
            "--device", "cpu", "--threads", "1"]
    cli = [sys.executable, "-m", "world_model_planner.app.cli", "train", "--data", str(data_dir)]
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    state = cut.with_suffix(".state.pt")
    proc = subprocess.Popen(cli + ["--out", str(cut)] + args, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert state.is_file() and not cut.exists(), "the run ended before it could be killed mid-way"
    killed_at = torch.load(state, weights_only=True)["step"]
    assert 4 <= killed_at < 80
    resumed = subprocess.run(cli + ["--out", str(cut), "--resume"] + args, env=_env(), capture_output=True,
                             text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not state.exists()                      # finished: the state is gone
    straight = subprocess.run(cli + ["--out", str(full)] + args, env=_env(), capture_output=True, text=True,
                              timeout=400)
    assert straight.returncode == 0, straight.stderr[-2000:]
    a, b = _weights(full), _weights(cut)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-6, f"resumed run differs from the uninterrupted one by {worst:.2e}"
    hist_full = load_checkpoint(full, device="cpu").metrics["history"]
    hist_cut = load_checkpoint(cut, device="cpu").metrics["history"]
    assert [h["step"] for h in hist_cut] == [h["step"] for h in hist_full]   # none lost, none repeated
    assert load_checkpoint(cut, device="cpu").metrics["resumed_at_step"] == killed_at   # resumed, not restarted
