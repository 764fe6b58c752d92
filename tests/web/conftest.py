"""A real vcsmatch to drive: a temp SQLite store with a small synthetic catalogue, a trained and
registered model and API keys; the app served by uvicorn on a free localhost port; headless
Chromium (Debian's package) driven by Playwright; axe-core from ``.tools`` (installed by
``scripts/install-browser.sh``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from web_helpers import AXE, CHROMIUM, CHROMIUM_ARGS, WebWorld

from vcsmatch.paths import REPO_ROOT
from vcsmatch.settings import Settings


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> WebWorld:
    """Store, catalogue, model and keys, made once for the web tests."""
    from vcsmatch.ranking.recommender import Recommender
    from vcsmatch.store import api_keys, catalogue_versions, model_registry
    from vcsmatch.store.db import dispose_engines, open_store
    from vcsmatch.synthetic import make_world

    data_dir = tmp_path_factory.mktemp("web")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'web.db'}")
    world = make_world(n_services=150, n_people=400, n_new_people=0, seed=11)
    model_dir = data_dir / "trained"
    Recommender().fit(world.catalogue, world.ratings).save(model_dir)
    sessions = open_store(settings)
    with sessions() as s:
        catalogue_versions.save_catalogue(s, world.catalogue)
        model_registry.register_model(s, model_dir, n_ratings=len(world.ratings))
        practitioner, _ = api_keys.create_key(s, "practitioner", "web test practitioner")
        front_door, _ = api_keys.create_key(s, "front_door", "web test front door")
        analyst, _ = api_keys.create_key(s, "analyst", "web test analyst")
    dispose_engines()
    return WebWorld(
        settings=settings,
        practitioner_key=practitioner,
        front_door_key=front_door,
        analyst_key=analyst,
        postcode=next(p.postcode for p in world.people if p.postcode),
        service_id=world.catalogue.services[0].id,
    )


@pytest.fixture(scope="module")
def app_client(web_world: WebWorld) -> Iterator[Any]:
    """The app over HTTP through the ASGI interface (no server, no browser), per module."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(web_world.settings), base_url="http://testserver") as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(web_world: WebWorld) -> Iterator[str]:
    """``vcsmatch``'s app under uvicorn in its own process group; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "VCSMATCH_DATA_DIR": str(web_world.settings.data_dir),
        "VCSMATCH_DATABASE_URL": web_world.settings.database_url,
    }
    log_path = web_world.settings.data_dir / "uvicorn.log"
    log = log_path.open("wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the app was not ready within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """One Playwright driver for the whole run: its sync API allows only one at a time, so
    every browser fixture launches from this one."""
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (run scripts/install-browser.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[object]:
    """Headless Chromium from Debian's package (never a downloaded build)."""
    instance = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="session")
def axe_source() -> str | None:
    """axe-core's source, or None where it is not installed (the journeys still run; the
    accessibility checks then report themselves skipped in ``test_axe_core_is_installed``)."""
    return AXE.read_text(encoding="utf-8") if AXE.exists() else None
