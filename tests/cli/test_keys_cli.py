"""`vcsmatch keys ...` and `vcsmatch serve` on a real temporary database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from vcsmatch.cli import app
from vcsmatch.settings import get_settings
from vcsmatch.store import api_keys
from vcsmatch.store.db import dispose_engines, open_store


@pytest.fixture
def cli_env(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose commands use a fresh database (SQLite file, then PostgreSQL)."""
    monkeypatch.setenv("VCSMATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VCSMATCH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    dispose_engines()
    get_settings.cache_clear()


def _verify(plaintext: str) -> api_keys.ApiKeyRecord | None:
    with open_store(get_settings())() as session:
        return api_keys.verify_key(session, plaintext)


def test_create_prints_a_key_once_that_verifies(cli_env: CliRunner) -> None:
    """The printed key verifies with its role; `keys list` never shows it again."""
    result = cli_env.invoke(app, ["keys", "create", "--role", "practitioner", "--name", "Team A"])
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip().splitlines()[-1]
    record = _verify(plaintext)
    assert record is not None and (record.role, record.name) == ("practitioner", "Team A")
    listing = cli_env.invoke(app, ["keys", "list"])
    assert listing.exit_code == 0
    assert "Team A" in listing.stdout and plaintext not in listing.stdout


def test_revoke_stops_the_key(cli_env: CliRunner) -> None:
    """A revoked key no longer verifies; revoking an unknown id exits 1."""
    plaintext = (
        cli_env.invoke(app, ["keys", "create", "--role", "admin", "--name", "ops"])
        .stdout.strip()
        .splitlines()[-1]
    )
    key_id = _verify(plaintext).id
    assert cli_env.invoke(app, ["keys", "revoke", str(key_id)]).exit_code == 0
    assert _verify(plaintext) is None
    assert cli_env.invoke(app, ["keys", "revoke", "777"]).exit_code == 1


def test_unknown_role_is_a_usage_error(cli_env: CliRunner) -> None:
    """Roles outside practitioner/front_door/analyst/admin are refused before anything is made."""
    result = cli_env.invoke(app, ["keys", "create", "--role", "root", "--name", "x"])
    assert result.exit_code == 2
    with open_store(get_settings())() as session:
        assert api_keys.list_keys(session) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_and_writes_no_access_log(tmp_path: Path) -> None:
    """`vcsmatch serve --workers 2` serves the app; a query string never reaches its output."""
    pytest.importorskip("api.main", reason="the API app (api/main.py) is not written yet")
    port = _free_port()
    env = {**os.environ, "VCSMATCH_DATA_DIR": str(tmp_path / "data")}
    env.pop("VCSMATCH_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from vcsmatch.cli import app; app()",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        while log.read_text().count("Application startup complete") < 2:  # both workers up
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        httpx.get(f"http://127.0.0.1:{port}/v1/services?q=SENTINEL-Q-5521", timeout=5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    output = log.read_text()
    assert "serving at" in output
    assert "died" not in output  # uvicorn's supervisor never replaced a slow-starting worker
    assert "SENTINEL-Q-5521" not in output and "/v1/services" not in output
