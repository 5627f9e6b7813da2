"""ganprint.devices: one GPU lease per process (faked GPU counts, so no GPU is needed), CPU fallback, threads."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganprint import devices
from ganprint.cli._common import StageError

SRC = Path(__file__).resolve().parents[2] / "src"

# A stage stand-in: acquire a device, print "<leased id> <CUDA_VISIBLE_DEVICES> <device type>", then hold the
# lease until the file argv[1] exists. The timeout turns a wrongly blocked lease into an exit, not a hang.
HOLDER = """
import os, sys, time
from ganprint import devices
d = devices.acquire_device("auto", timeout=float(sys.argv[2]))
print(devices.lease_gpu(), os.environ["CUDA_VISIBLE_DEVICES"], d.type, flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
"""


def _env(lock_dir: Path, **extra: str) -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "GANPRINT_FAKE_GPU_COUNT")}
    return e | {"PYTHONPATH": str(SRC), "GANPRINT_LOCK_DIR": str(lock_dir)} | extra


def _holder(tmp_path: Path, timeout: float = 60, **extra: str) -> subprocess.Popen:
    go = tmp_path / "go"
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(go), str(timeout)],
        env=_env(tmp_path / "locks", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(p: subprocess.Popen) -> list[str]:
    line = p.stdout.readline().split()
    assert line, f"holder printed nothing; stderr:\n{p.stderr.read()}"
    return line


@pytest.fixture
def procs(tmp_path):
    """Holders started by a test; they are let go (and killed if need be) afterwards."""
    started: list[subprocess.Popen] = []
    yield started
    (tmp_path / "go").touch()
    for p in started:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """In-process calls: own lock dir, no visible GPU unless the test fakes one; lease and threads restored."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("GANPRINT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, even on a machine that has one
    monkeypatch.delenv("GANPRINT_FAKE_GPU_COUNT", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    devices.release()
    torch.set_num_threads(threads)


@pytest.fixture
def warnings_seen():
    # Own handler: the CLI tests set propagate=False on "ganprint", which would hide records from caplog.
    got: list[logging.LogRecord] = []
    h = logging.Handler(logging.WARNING)
    h.emit = got.append
    logger = logging.getLogger("ganprint")
    logger.addHandler(h)
    yield got
    logger.removeHandler(h)


# -- leases across processes ---------------------------------------------------------------------------------


def test_concurrent_processes_lease_distinct_gpus(tmp_path, procs):
    procs += [_holder(tmp_path, GANPRINT_FAKE_GPU_COUNT="3") for _ in range(3)]
    got = [_first_line(p) for p in procs]
    assert sorted(g[0] for g in got) == ["0", "1", "2"]
    assert all(g[1] == g[0] for g in got)  # each process sees only its own GPU


def test_all_leased_waits_then_gives_up(tmp_path, procs, isolated, monkeypatch):
    procs.append(_holder(tmp_path, GANPRINT_FAKE_GPU_COUNT="1"))
    assert _first_line(procs[0])[0] == "0"
    monkeypatch.setenv("GANPRINT_FAKE_GPU_COUNT", "1")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    with pytest.raises(StageError, match="no free GPU"):
        devices.lease_gpu(timeout=0)


def test_sigkilled_holder_frees_its_gpu(tmp_path, procs):
    first = _holder(tmp_path, GANPRINT_FAKE_GPU_COUNT="1")
    procs.append(first)
    assert _first_line(first)[0] == "0"
    first.kill()  # SIGKILL: no cleanup code runs, the kernel drops the flock
    first.wait()
    second = _holder(tmp_path, timeout=0, GANPRINT_FAKE_GPU_COUNT="1")  # timeout 0: fail rather than wait
    procs.append(second)
    assert _first_line(second)[0] == "0"


def test_existing_cuda_visible_devices_is_the_candidate_list(tmp_path, procs):
    extra = {"GANPRINT_FAKE_GPU_COUNT": "2", "CUDA_VISIBLE_DEVICES": "5,7"}
    procs += [_holder(tmp_path, **extra) for _ in range(2)]
    got = sorted(_first_line(p)[:2] for p in procs)
    assert got == [["5", "5"], ["7", "7"]]
    assert sorted(f.name for f in (tmp_path / "locks").iterdir()) == ["gpu-5.lock", "gpu-7.lock"]


# -- device choice in one process ----------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.device_count() > 0, reason="a real GPU would be found behind the faked one")
def test_faked_gpu_without_cuda_leases_then_runs_on_cpu(isolated, monkeypatch, warnings_seen):
    monkeypatch.setenv("GANPRINT_FAKE_GPU_COUNT", "1")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert devices.acquire_device("auto") == torch.device("cpu")
    assert devices.lease_gpu() == "0" and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert [r.getMessage() for r in warnings_seen] == ["no CUDA device visible; running on the CPU"]


def test_no_gpu_auto_falls_back_to_cpu_with_one_warning(isolated, warnings_seen):
    assert devices.acquire_device("auto") == torch.device("cpu")
    assert [r.getMessage() for r in warnings_seen] == ["no CUDA device visible; running on the CPU"]
    assert devices.lease_gpu() is None


def test_cpu_takes_no_lease_and_warns_nothing(isolated, monkeypatch, warnings_seen):
    monkeypatch.setenv("GANPRINT_FAKE_GPU_COUNT", "2")
    assert devices.acquire_device("cpu") == torch.device("cpu")
    assert warnings_seen == []
    assert devices._lease is None


def test_cuda_without_gpu_is_a_stage_error(isolated):
    with pytest.raises(StageError, match="--device cuda: no CUDA device is visible"):
        devices.acquire_device("cuda")


# -- threads -------------------------------------------------------------------------------------------------


def test_explicit_threads(isolated, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an explicit count wins over the environment
    devices.acquire_device("cpu", threads=1)
    assert torch.get_num_threads() == 1


def test_threads_from_omp_num_threads(isolated, monkeypatch):
    torch.set_num_threads(2)  # torch read OMP_NUM_THREADS at start-up; show that acquire_device applies it too
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    devices.acquire_device("cpu")
    assert torch.get_num_threads() == 1


def test_threads_from_omp_num_threads_in_a_fresh_process(tmp_path):
    code = "from ganprint import devices; import torch; devices.acquire_device('cpu'); print(torch.get_num_threads())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path, OMP_NUM_THREADS="1"), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_bad_thread_count_is_a_stage_error(isolated):
    with pytest.raises(StageError, match="--threads must be at least 1"):
        devices.acquire_device("cpu", threads=0)
