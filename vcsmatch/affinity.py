"""Each ``vcsmatch serve`` worker keeps to a CPU of its own, while the machine has one to spare.

A worker that the kernel moves between CPUs finds its caches cold wherever it lands: a worker
answers in short bursts, each woken by a client or a proxy on the same machine, and the kernel
tends to wake it beside that process. On a 2-core machine with the benchmark's client on
loopback, a worker left to move ranked in 1.74 ms what took 1.45 ms pinned and 1.26 ms in a
busy loop, and a recommendation took 4.2 ms instead of 3.3 (BENCHMARKS.md, issue 18). nginx
(``worker_cpu_affinity auto``) and HAProxy (``cpu-map``) pin their workers for the same reason.

``pin_this_worker`` takes the highest-numbered CPU of the process's allowed set that no other
worker on this machine holds (CPU 0 takes most interrupts), marked by an ``flock`` on a file per
CPU, which the kernel releases when the worker exits, so a replaced worker takes its CPU again.
When every allowed CPU is held, or there is only one, the worker is not pinned.
``Settings.worker_cpu_affinity = "off"`` switches it off. Child processes (the learner) get the
CPUs the worker had before (``unpinned``), so training never competes for the worker's one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger("vcsmatch.serve")

#: Where the per-CPU lock files live: one directory for every vcsmatch server on the machine.
LOCK_DIR = Path(tempfile.gettempdir()) / "vcsmatch-worker-cpus"

_state: dict[str, object] = {}


def pin_this_worker() -> int | None:
    """Pin this process to a CPU no other pinned worker holds; the CPU, or None if not pinned.
    Idempotent: a process pinned already keeps its CPU."""
    if "cpu" in _state:
        return _state["cpu"]  # type: ignore[return-value]
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    try:
        LOCK_DIR.mkdir(mode=0o1777, exist_ok=True)
    except OSError:
        return None
    for cpu in sorted(allowed, reverse=True):
        fd = _hold(LOCK_DIR / f"cpu-{cpu}.lock")
        if fd is None:
            continue
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            os.close(fd)
            return None
        _state.update(cpu=cpu, fd=fd, allowed=frozenset(allowed))
        logger.info("worker %d keeps to CPU %d", os.getpid(), cpu)
        return cpu
    return None


def unpinned() -> None:
    """Give the calling process back the CPUs its worker had before it was pinned (for a child
    process, between fork and exec: ``subprocess.Popen(preexec_fn=...)``)."""
    allowed = _state.get("allowed")
    if allowed:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, allowed)  # type: ignore[arg-type]


def _hold(path: Path) -> int | None:
    """An open descriptor holding ``path``'s exclusive lock, or None if another process does."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
