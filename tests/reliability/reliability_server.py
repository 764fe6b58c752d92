"""The real server, started the way an operator starts it, for the reliability tests.

``LiveServer`` runs ``vcsmatch serve`` in a process group of its own (uvicorn's supervisor and
its workers), so a test can SIGKILL the whole group the way a power cut or an OOM killer would
(killing only the supervisor leaves the workers serving). ``seed_store`` fills a store with a
catalogue, a registered model and keys through the store's own functions. ``PrivateCluster``
is a throw-away PostgreSQL server a test may stop abruptly without touching the shared one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vcsmatch.settings import Settings
from vcsmatch.store import api_keys, catalogue_versions, model_registry
from vcsmatch.store.db import dispose_engines, open_store

ROLES = ("practitioner", "front_door", "analyst", "admin")
#: The request deadline (headers and body) of the shared test server, in seconds.
LIVE_DEADLINE_S = 2.0
#: How long a cold server may take to import scikit-learn, migrate and load its model.
STARTUP_SECONDS = 180.0


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vcsmatch_executable() -> str:
    """The ``vcsmatch`` console script of the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "vcsmatch"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("vcsmatch")
    if found is None:
        raise RuntimeError("the vcsmatch console script is not installed")
    return found


@dataclass
class Seeded:
    """What a test needs to know about a seeded store."""

    database_url: str
    data_dir: Path
    keys: dict[str, str]
    key_ids: dict[str, int]
    model_version: str
    secret_key: str = "reliability-test-secret"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment that points ``vcsmatch`` (server or CLI) at this store."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCSMATCH_")}
        env.update(
            VCSMATCH_DATA_DIR=str(self.data_dir),
            VCSMATCH_DATABASE_URL=self.database_url,
            VCSMATCH_SECRET_KEY=self.secret_key,
            # Every client here shares one key per role; the limiter is not under test.
            VCSMATCH_RATE_LIMIT_PER_MINUTE="10000000",
            VCSMATCH_MAX_FAILED_KEY_CHECKS_PER_MINUTE="10000000",
            VCSMATCH_MODEL_POLL_SECONDS="1",
            PYTHONUNBUFFERED="1",
            # the learner and exploration stay off (see tests/conftest.py)
            VCSMATCH_LEARN_ENABLED="false",
            VCSMATCH_EXPLORE_SHARE="0",
        )
        env.update(extra)
        return env

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            data_dir=self.data_dir,
            secret_key=self.secret_key,
            rate_limit_per_minute=10_000_000,
            model_poll_seconds=1,
        )

    def auth(self, role: str = "practitioner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def seed_store(database_url: str, data_dir: Path, catalogue: Any, model_dir: Path) -> Seeded:
    """Migrate the store, save ``catalogue`` as the active version, register the model saved in
    ``model_dir`` and create one key of each role."""
    data_dir.mkdir(parents=True, exist_ok=True)
    seeded = Seeded(database_url, data_dir, {}, {}, "")
    sessions = open_store(seeded.settings())
    with sessions() as session:
        catalogue_versions.save_catalogue(session, catalogue, source="reliability tests")
        seeded.model_version = model_registry.register_model(session, model_dir, n_ratings=1)
        for role in ROLES:
            plaintext, record = api_keys.create_key(session, role, f"reliability {role}")
            seeded.keys[role] = plaintext
            seeded.key_ids[role] = record.id
    dispose_engines()  # the server opens its own connections
    return seeded


@dataclass
class LiveServer:
    """``vcsmatch serve`` in its own process group, its output kept in files."""

    seeded: Seeded
    workers: int = 1
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    #: Where each start's stdout and stderr go (default: beside the store, in the test's tmp).
    log_dir: Path | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        if self.log_dir is None:
            self.log_dir = self.seeded.data_dir / "server-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"stdout-{self.starts}.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"stderr-{self.starts}.log"

    def start(self, *, wait: bool = True) -> LiveServer:
        """Start the server (a new process group) and wait until every worker is ready."""
        self.starts += 1
        command = [
            vcsmatch_executable(),
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(  # noqa: S603 - our own console script
                command,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=self.seeded.env(**self.extra_env),
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Until every worker has finished its startup and ``/ready`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"vcsmatch serve exited early:\n{self.output()[-3000:]}")
            started = self.stderr_path.read_text(errors="replace").count(
                "Application startup complete"
            )
            if started >= self.workers:
                try:
                    if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"vcsmatch serve not ready in {timeout:g} s:\n{self.output()[-3000:]}")

    def pids(self) -> list[int]:
        """Every live process of the server's group (supervisor, workers, helpers)."""
        if self.process is None:
            return []
        pgid = self.process.pid
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    out.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
        return out

    def kill(self) -> None:
        """SIGKILL the whole process group at once: no shutdown handler runs anywhere."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def stop(self) -> None:
        """Ask the group to stop (SIGTERM); SIGKILL what is left after 20 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def _wait_group_gone(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)

    def output(self) -> str:
        """Everything every start of the server wrote to stdout and stderr."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivateCluster:
    """A PostgreSQL server of our own (initdb into a temp dir, trust auth, loopback only).

    Tests stop it with ``pg_ctl stop -m immediate`` (the server dies without a checkpoint, as
    in a crash) without disturbing the machine's shared PostgreSQL. As root, the cluster runs as
    the ``postgres`` OS user, since PostgreSQL refuses to run as root.
    """

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("initdb is not installed")
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vcsmatch-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root and runuser is not available")
            import pwd

            try:
                entry = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root and there is no postgres OS user") from exc
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.as_user = [runuser, "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - PostgreSQL's own tools
            [*self.as_user, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def init(self) -> PrivateCluster:
        done = self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",  # speeds up initdb only; the server itself runs with fsync on
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        done = self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-2000:]}{self.log_text()}")

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        import psycopg

        admin = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def answering_pid(server: LiveServer, client_port: int) -> int | None:
    """The pid in ``server``'s group holding the server end of the loopback connection whose
    client end is ``client_port`` (Linux /proc), so a test can tell which worker answered."""
    want_local = f"0100007F:{server.port:04X}"
    want_remote = f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == want_local and parts[2] == want_remote:
            inode = parts[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in server.pids():
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def request_on_fresh_connection(
    server: LiveServer, method: str, path: str, headers: dict[str, str]
) -> tuple[int | None, int]:
    """One request on a new keep-alive connection: ``(answering worker's pid, status)``."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        response.read()
        return answering_pid(server, conn.sock.getsockname()[1]), response.status
    finally:
        conn.close()
