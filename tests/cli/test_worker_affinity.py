"""Each ``vcsmatch serve`` worker keeps to a CPU of its own (``vcsmatch.affinity``).

Pinning is done in separate processes, never in the test process: a pinned pytest would run
the rest of the suite on one CPU. Each test gives its processes a private ``TMPDIR``, so the
CPU locks of other servers on this machine (other tests', a developer's) do not count.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
pytestmark = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs a process allowed 2 CPUs")

#: A process that pins itself, prints its CPU (or None) and what it may run on, then waits
#: for its stdin to close.
PIN = """
import os, sys
from vcsmatch.affinity import pin_this_worker
cpu = pin_this_worker()
print(cpu, sorted(os.sched_getaffinity(0)), flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def pinned_process(env: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    with subprocess.Popen(
        [sys.executable, "-c", PIN],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            cpu, allowed = proc.stdout.readline().split(" ", 1)
            yield cpu, [int(c) for c in allowed.strip(" []\n").split(",")]
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)


def private_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCSMATCH_")}
    return {**env, "TMPDIR": str(tmp_path), **extra}


def test_each_worker_takes_a_cpu_no_other_holds_until_none_is_left(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    with contextlib.ExitStack() as stack:
        taken = [stack.enter_context(pinned_process(env)) for _ in ALLOWED]
        # Highest first (CPU 0 takes most interrupts), one each, and only that one.
        assert [cpu for cpu, _ in taken] == [str(c) for c in reversed(ALLOWED)]
        assert [allowed for _, allowed in taken] == [[c] for c in reversed(ALLOWED)]
        with pinned_process(env) as (cpu, allowed):
            assert cpu == "None"  # every CPU is held: this one is left to move
            assert allowed == ALLOWED
    # The holders have exited, so the kernel has released their locks: the first CPU is free.
    with pinned_process(env) as (cpu, _):
        assert cpu == str(ALLOWED[-1])


def test_the_learner_child_runs_on_the_cpus_the_worker_had(tmp_path: Path) -> None:
    code = (
        "import os, subprocess, sys\n"
        "from vcsmatch.affinity import pin_this_worker\n"
        "from vcsmatch.learner import process\n"
        "assert pin_this_worker() is not None\n"
        "child = [sys.executable, '-c', 'import os; print(sorted(os.sched_getaffinity(0)))']\n"
        "out = subprocess.run(child, preexec_fn=process._lower_priority, capture_output=True,\n"
        "                     text=True, check=True).stdout\n"
        "print(sorted(os.sched_getaffinity(0)), out.strip())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=private_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    worker, child = done.stdout.strip().split("] ")
    assert worker + "]" == str([ALLOWED[-1]])
    assert child == str(ALLOWED)


def test_off_leaves_the_process_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.main import serve_app
    from vcsmatch.settings import get_settings

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("VCSMATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VCSMATCH_WORKER_CPU_AFFINITY", "off")
    get_settings.cache_clear()
    try:
        serve_app()
    finally:
        get_settings.cache_clear()
    assert sorted(os.sched_getaffinity(0)) == ALLOWED
    assert not (tmp_path / "vcsmatch-worker-cpus").exists()


def _cpus_allowed(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list for {pid}")


@pytest.mark.slow
def test_vcsmatch_serve_pins_its_two_workers_to_different_cpus(
    tmp_path: Path, world, trained_model_dir: Path
) -> None:
    from tests.reliability.reliability_server import LiveServer, seed_store

    seeded = seed_store("", tmp_path / "data", world.catalogue, trained_model_dir)
    server = LiveServer(seeded, workers=2, extra_env={"TMPDIR": str(tmp_path)}).start()
    try:
        assert server.process is not None
        cpus = {pid: _cpus_allowed(pid) for pid in server.pids()}
        pinned = sorted(c for c in cpus.values() if c.isdigit())
        assert pinned == sorted(str(c) for c in ALLOWED[-2:])  # one CPU each, not the same
        assert not cpus[server.process.pid].isdigit()  # the supervisor serves nothing
    finally:
        server.stop()
