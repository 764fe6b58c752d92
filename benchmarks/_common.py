"""Shared pieces of the benchmarks: timing, percentiles, verdicts, child-process memory, and
a real ``vcsmatch serve`` on a scratch data directory.

Every benchmark prints figures measured side by side in one run (these machines are shared
and noisy: a ratio to something measured a second earlier means more than an absolute time).
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: The ``vcsmatch`` console script of the interpreter running the benchmark.
VCSMATCH = str(Path(sys.executable).with_name("vcsmatch"))
console = Console(highlight=False, width=max(Console().width, 130))

POSTGRES_ADMIN_URL = os.environ.get(
    "VCSMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit``, so a stopped benchmark still kills its server group
    and drops its scratch database (the ``finally`` blocks run)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def machine() -> str:
    """One line naming the machine: cores, memory, Python, load (figures depend on all four)."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GB, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load:.1f} at start"
    )


def percentiles(samples_ms: list[float] | np.ndarray) -> dict[str, float]:
    """Median, p95, p99 and mean of latencies in milliseconds."""
    a = np.asarray(samples_ms, dtype=float)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(a.mean())}


def time_calls(fn: Callable[[], object], n: int, warmup: int = 5) -> np.ndarray:
    """Wall time of ``n`` calls of ``fn`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1000.0
    return out


def verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[bold red]MISSED[/bold red]"


def table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    """Print a rich table; the first column is left-aligned, the rest right-aligned."""
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[_fmt(v) for v in r])
    console.print(t)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# -- child processes ---------------------------------------------------------------------------


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    #: User + system CPU seconds: on a shared machine, the work done, whatever the wait.
    cpu_seconds: float = float("nan")


def measure_in_fresh_parent(args: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run ``args`` to completion through a throwaway parent and measure its wall time, CPU
    time and peak resident memory (``ru_maxrss`` of RUSAGE_CHILDREN is the largest child a
    process ever waited for, so a fresh parent makes it this child's alone). The child keeps
    this process's terminal, so its progress bars show live."""
    import json
    import tempfile

    code = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[2:], check=False).returncode\n"
        "s = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "out = [s, ru.ru_maxrss / 1024.0, rc, ru.ru_utime + ru.ru_stime]\n"
        "open(sys.argv[1], 'w').write(json.dumps(out))\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run([PYTHON, "-c", code, out.name, *args], env=env, check=False)
        try:
            seconds, peak_mb, rc, cpu = json.loads(Path(out.name).read_text())
        except ValueError:
            return ChildRun(float("nan"), float("nan"), proc.returncode or 1)
    return ChildRun(float(seconds), float(peak_mb), int(rc), float(cpu))


# -- a real server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped afterwards), or None when no server answers."""
    try:
        import psycopg

        admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            name = f"vcsmatch_bench_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        yield None
        return
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        from vcsmatch.store.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(data_dir: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    """Environment for ``vcsmatch serve`` on ``data_dir``: no rate limit in the way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCSMATCH_")}
    env.update(
        VCSMATCH_DATA_DIR=str(data_dir),
        VCSMATCH_DATABASE_URL=database_url,
        VCSMATCH_RATE_LIMIT_PER_MINUTE=str(10**9),
        **extra,
    )
    return env


@dataclass
class Server:
    url: str
    pid: int

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (the server's process group, less the supervisor)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.pid:
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    in_group = int(stat[stat.rindex(")") + 2 :].split()[2]) == self.pid  # pgrp
                    if in_group and b"resource_tracker" not in (entry / "cmdline").read_bytes():
                        pids.append(int(entry.name))
        return pids or [self.pid]  # one worker: uvicorn serves in the supervisor's process

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the server's processes (all workers)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in {self.pid, *self.worker_pids()}:
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker now, MB (what one copy of the serving state costs)."""
        out = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]) / 1024.0)
        return out


@contextlib.contextmanager
def serve(
    env: dict[str, str],
    workers: int = 1,
    ready_timeout: float = 300.0,
    ready_path: str = "/ready",
) -> Iterator[Server]:
    """Run ``vcsmatch serve --workers N`` in its own process group; yield it once
    ``ready_path`` answers 200 repeatedly (from every worker), and kill the whole group
    afterwards. A store with no catalogue yet is never ready: wait for ``/health`` there."""
    import httpx

    port = free_port()
    log = open(Path(env["VCSMATCH_DATA_DIR"]) / f"serve-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [VCSMATCH, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        ok_in_a_row = 0
        while ok_in_a_row < 4 * workers:
            refused = "refused" in Path(log.name).read_text()  # the model failed to load
            if proc.poll() is not None or time.monotonic() > deadline or refused:
                log.flush()
                tail = (Path(log.name).read_text()[-3000:]) if Path(log.name).exists() else ""
                raise RuntimeError(f"vcsmatch serve did not become ready:\n{tail}")
            try:
                # a fresh connection each time, so the kernel spreads them over the workers
                r = httpx.get(f"{url}{ready_path}", timeout=5)
                ok_in_a_row = ok_in_a_row + 1 if r.status_code == 200 else 0
            except httpx.HTTPError:
                ok_in_a_row = 0
            time.sleep(0.25)
        yield Server(url, proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def prepare_store(
    data_dir: Path,
    database_url: str,
    catalogue: object,
    ratings: object | None = None,
    *,
    model_dir: Path | None = None,
    train_catalogue: object | None = None,
    roles: tuple[str, ...] = ("practitioner",),
) -> dict[str, str]:
    """Put ``catalogue`` (active) and a model (``model_dir``, or one trained on ``ratings`` over
    ``train_catalogue`` or ``catalogue``) into the store at ``database_url``; return a new API
    key per role. Workers rebind the model to the active catalogue, as in production."""
    from vcsmatch.settings import Settings
    from vcsmatch.store import api_keys, catalogue_versions, model_registry
    from vcsmatch.store.db import dispose_engines, open_store

    settings = Settings(data_dir=data_dir, database_url=database_url)
    sessions = open_store(settings)
    from rich.progress import Progress

    with sessions() as session, Progress(console=console, transient=True) as bar:
        task = bar.add_task("storing the catalogue", total=len(catalogue))  # type: ignore[arg-type]
        catalogue_versions.save_catalogue(
            session,
            catalogue,  # type: ignore[arg-type]
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if model_dir is None:
        from vcsmatch.ranking.recommender import Recommender

        model = Recommender(show_progress=False).fit(train_catalogue or catalogue, ratings)
        model_dir = model.save(data_dir / "trained-model")
    with sessions() as session:
        model_registry.register_model(session, model_dir)
    keys = {}
    with sessions() as session:
        for role in roles:
            keys[role], _ = api_keys.create_key(session, role, f"benchmark {role}")
    dispose_engines()
    return keys


# -- profiles ------------------------------------------------------------------------------------


@contextlib.contextmanager
def py_spy(
    pids: list[int], directory: Path | None, seconds: float, *, svg: bool = False
) -> Iterator[list[Path]]:
    """Sample ``pids`` with py-spy (when ``directory`` is given and py-spy is installed) for
    ``seconds``, into collapsed-stack files; yields their paths (filled once the block ends).
    Only threads holding the GIL are sampled: Python's CPU time, not threads waiting on the
    database or the network. ``svg``: a second sampler per process writes a flame graph
    (``py-spy-PID.svg``) beside each file."""
    exe = Path(PYTHON).with_name("py-spy")
    if directory is None or not exe.exists():
        yield []
        return
    directory.mkdir(parents=True, exist_ok=True)
    outs = [directory / f"py-spy-{pid}.txt" for pid in pids]
    formats = ["raw", "flamegraph"] if svg else ["raw"]
    procs = [
        subprocess.Popen(
            [
                str(exe),
                "record",
                "--pid",
                str(pid),
                "--format",
                fmt,
                "--nonblocking",
                "--rate",
                "200",
                "--gil",
                "--duration",
                str(int(seconds)),
                "-o",
                str(out if fmt == "raw" else out.with_suffix(".svg")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for pid, out in zip(pids, outs, strict=True)
        for fmt in formats
    ]
    try:
        yield outs
    finally:
        for p in procs:
            try:
                p.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                p.terminate()
                p.wait()


def hot_functions(paths: list[Path], top: int = 15, project: tuple[str, ...] = ()) -> list[list]:
    """From py-spy collapsed stacks: where the samples go, as rows ``[place, share]``. Each
    sample is charged to its innermost frame in ``project`` (path prefixes such as
    ``"vcsmatch/"``), followed by the package of the frame that was running, when that is a
    library (so ``BodyLimitMiddleware.__call__ (api/middleware.py) -> fastapi`` is the
    framework's own work under that middleware)."""
    from collections import Counter

    places: Counter[str] = Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            # "function (path/file.py:line)" -> "function (path/file.py)"
            frames = [f.rsplit(":", 1)[0] + ")" for f in stack.split(";") if " (" in f]
            ours = [i for i, f in enumerate(frames) if any(f"({p}" in f for p in project)]
            if not ours:
                places["(outside the project: event loop, threads, imports)"] += n
                continue
            place = frames[ours[-1]]
            if ours[-1] != len(frames) - 1:
                leaf = frames[-1].rsplit("(", 1)[-1]
                place += f" -> {leaf.split('/')[0].split('.')[0]}"
            places[place] += n
    if not total:
        return []
    return [[f, f"{n / total:.0%}"] for f, n in places.most_common(top)]
