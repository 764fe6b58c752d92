"""Issue 17, finding 10: the README's commands work as written on a fresh checkout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from vcsmatch.paths import REPO_ROOT
from vcsmatch.settings import Settings
from vcsmatch.store import api_keys
from vcsmatch.store.db import dispose_engines, open_store


def test_finding10_dev_sh_runs_the_cli_without_activating_the_venv() -> None:
    """`bash dev.sh vcsmatch ...` runs the CLI from the project's venv (here: this one, already
    installed, so nothing is installed again)."""
    venv = Path(sys.prefix)
    env = {**os.environ, "VCSMATCH_VENV": str(venv)}
    done = subprocess.run(
        ["bash", "dev.sh", "vcsmatch", "--help"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: vcsmatch" in done.stdout
    assert "installing" not in done.stderr  # the stamp says the venv is current


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "VCSMATCH_DATA_DIR": str(tmp_path / "data")}
    env.pop("VCSMATCH_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from vcsmatch.cli import app; app()", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )


def _demo_keys(tmp_path: Path) -> list[api_keys.ApiKeyRecord]:
    settings = Settings(data_dir=tmp_path / "data")
    try:
        with open_store(settings)() as session:
            return [k for k in api_keys.list_keys(session) if k.name == "demo practitioner"]
    finally:
        dispose_engines()


def test_finding10_a_busy_port_fails_first_with_a_hint_of_port(tmp_path: Path) -> None:
    """A start on a port already in use says so before anything else, names `--port`, never
    prints "serving at" and mints no demo key."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(tmp_path, "--port", str(port), "--demo")
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    assert f"port {port}" in output and "--port" in output, output
    assert "serving at" not in output and "demo practitioner key" not in output, output
    assert _demo_keys(tmp_path) == []


def test_finding10_each_starts_demo_key_is_revoked_when_it_stops(tmp_path: Path) -> None:
    """`serve --demo` prints a practitioner key that works while it serves and is revoked when
    the server stops (SIGTERM, as a service manager or Ctrl-C stops it)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    proc = _serve(tmp_path, "--port", str(port), "--demo")
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "serving at" in line:
                break
        key = next(ln.rsplit(" ", 1)[1].strip() for ln in lines if "demo practitioner key" in ln)
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/v1/taxonomy",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=5,
                )
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
                time.sleep(0.3)
        assert answer.status_code == 200, answer.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert "demo practitioner key revoked" in rest, "".join(lines) + rest
    demo = _demo_keys(tmp_path)
    assert len(demo) == 1 and demo[0].revoked_at is not None
