"""Pick a stage's device: lease one GPU per process with a lock file, pin it, and set the CPU thread count."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path

import torch

from ganprint.errors import StageError

log = logging.getLogger("ganprint")

# The lease this process holds: (physical id, its index among the candidates, open lock fd). Keeping the fd
# open keeps the flock; the kernel drops it when the process exits, however it dies (SIGKILL included).
_lease: tuple[str, int, int] | None = None


def lock_dir() -> Path:
    """The directory of per-GPU lock files: ``$GANPRINT_LOCK_DIR``, else ``<tmp>/ganprint-gpu-locks``."""
    return Path(os.environ.get("GANPRINT_LOCK_DIR") or Path(tempfile.gettempdir()) / "ganprint-gpu-locks")


def visible_ids() -> list[str]:
    """The physical GPU ids this process may lease, found without initialising CUDA.

    An existing ``CUDA_VISIBLE_DEVICES`` (a cluster's allocation) is the candidate list; otherwise ids
    ``0..n-1``. ``GANPRINT_FAKE_GPU_COUNT=N`` stands in for the device count so CPU machines can test leases.
    """
    fake = os.environ.get("GANPRINT_FAKE_GPU_COUNT")
    # Before CUDA is initialised, torch.cuda.device_count() asks NVML (torch/cuda/__init__.py: device_count ->
    # _device_count_nvml, which applies CUDA_VISIBLE_DEVICES itself); NVML creates no CUDA context, so narrowing
    # CUDA_VISIBLE_DEVICES afterwards still takes effect. torch.cuda.is_available() instead calls
    # cudaGetDeviceCount (cuInit), which freezes the visible set, so it must not run before the lease.
    n = int(fake) if fake else torch.cuda.device_count()
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return [str(i) for i in range(n)]
    # The count already honours the variable (it stops at an invalid entry), so its first n entries are the GPUs.
    return [s.strip() for s in env.split(",") if s.strip()][:n]


def lease_gpu(timeout: float | None = None, poll: float = 1.0) -> str | None:
    """Lease the first free visible GPU for the rest of this process's life.

    Args:
        timeout: seconds to wait when every GPU is leased; None waits for ever, 0 tries once.
        poll: seconds between tries while waiting.

    Returns:
        The leased physical id (the same one on every call in a process), or None when no GPU is visible.

    Raises:
        StageError: every GPU stayed leased for ``timeout`` seconds.
    """
    global _lease
    if _lease is not None:
        return _lease[0]
    ids = visible_ids()
    if not ids:
        return None
    d = lock_dir()
    d.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    waiting = False
    while True:
        for index, gid in enumerate(ids):
            fd = os.open(d / f"gpu-{gid.replace('/', '_')}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a human looking at the lock dir
            _lease = (gid, index, fd)
            return gid
        if deadline is not None and time.monotonic() >= deadline:
            raise StageError(f"no free GPU after {timeout:g}s: {','.join(ids)} all leased (locks in {d})")
        if not waiting:
            # Snakemake's gpu resource should keep jobs <= GPUs; reaching here means another run shares them.
            log.warning("all GPUs (%s) are leased by other processes; waiting for one (locks in %s)", ",".join(ids), d)
            waiting = True
        time.sleep(poll)


def release() -> None:
    """Give the lease back (for tests; a stage keeps its lease until it exits)."""
    global _lease
    if _lease is not None:
        os.close(_lease[2])
        _lease = None


def set_threads(threads: int | None = None) -> int | None:
    """Set torch's CPU thread count from ``threads``, else ``$OMP_NUM_THREADS``; return it (None: torch's default).

    Snakemake exports OMP_NUM_THREADS (with GOTO_, OPENBLAS_, MKL_, NUMEXPR_NUM_THREADS and
    VECLIB_MAXIMUM_THREADS) set to the rule's ``threads`` for shell jobs (snakemake 9.27 shell.py, ``envvars``).
    """
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # "4,2" = nested levels; take the outer
        threads = int(env) if env.isdigit() else 0
        if threads < 1:  # unset or unusable: keep torch's default
            return None
    elif threads < 1:
        raise StageError(f"--threads must be at least 1, got {threads}")
    else:
        # the declared count, capped at the cores as Snakemake caps a rule's threads: a job gets the same count
        # (and so the same float results) whichever front-end runs it
        threads = min(threads, os.cpu_count() or threads)
    torch.set_num_threads(threads)
    return threads


def acquire_device(kind: str = "auto", threads: int | None = None, timeout: float | None = None) -> torch.device:
    """The device a stage runs on: lease a GPU (before CUDA initialises) and pin it as cuda:0.

    Args:
        kind: "auto" (a GPU when one is visible, else the CPU with one warning), "cpu" or "cuda".
        threads: CPU threads for torch; None takes ``$OMP_NUM_THREADS`` or leaves torch's default.
        timeout: seconds to wait for a free GPU (see ``lease_gpu``).

    Raises:
        StageError: ``kind`` is "cuda" and no CUDA device is usable, or no GPU freed up within ``timeout``.
    """
    if kind not in ("auto", "cpu", "cuda"):
        raise StageError(f"unknown device {kind!r}: use auto, cpu or cuda")
    set_threads(threads)
    if kind == "cpu":
        return torch.device("cpu")
    gid = lease_gpu(timeout)
    if gid is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gid  # this process (and its children) now see one GPU, as cuda:0
    # Safe to initialise CUDA now; with a faked count and no real GPU this is where we fall back to the CPU.
    if gid is None or not torch.cuda.is_available():
        if kind == "cuda":
            raise StageError("--device cuda: no CUDA device is visible; use --device cpu or auto")
        log.warning("no CUDA device visible; running on the CPU")
        return torch.device("cpu")
    torch.cuda.init()
    if torch.cuda.device_count() == 1:
        return torch.device("cuda", 0)
    # CUDA was initialised before the lease (an early torch.cuda.is_available()), so the narrowed variable came
    # too late; the driver still lists the old candidates, where the leased GPU sits at its index.
    log.warning("CUDA was initialised before the GPU lease; using cuda:%d (physical %s)", _lease[1], gid)
    return torch.device("cuda", _lease[1])
