"""Shared fixtures: a fresh data dir and database per test, and a real server on loopback.

Tests that take `settings` (and so `services`, `server`, `client`) run twice: on the embedded
default (SQLite, jobs in the backend process) and on the scaled set-up (Postgres, Celery
worker process, Redis notifications).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from jobs_ui.access.api_keys import create_key
from jobs_ui.api.app import create_api
from jobs_ui.db import make_engine
from jobs_ui.migrations.scope import own_tables
from jobs_ui.services import Services
from jobs_ui.settings import Settings
from tests.support.services import (
    REDIS_TEST_URL,
    empty_dir,
    migrated_database,
    require_postgres,
    require_redis,
    scaled_environment,
    start_worker,
    stop_process,
    wait_for_worker_ready,
)

# Tests choose their own deployment; a developer's shell settings must not leak in.
for _name in [name for name in os.environ if name.startswith("JOBS_UI_")] + [
    "DATABASE_URL",
    "REDIS_URL",
]:
    os.environ.pop(_name, None)

TEST_UPLOAD_LIMIT = 8 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ScaledStack:
    """One isolated scaled deployment: its own database, Redis namespace, data dir, worker."""

    environment: dict[str, str]
    data_dir: Path

    def settings(self) -> Settings:
        keys = ("DATABASE_URL", "REDIS_URL", "JOBS_UI_DATA_DIR", "JOBS_UI_NAMESPACE")
        keys += ("JOBS_UI_HEARTBEAT_SECONDS", "JOBS_UI_STALE_AFTER_SECONDS")
        values = {key: self.environment[key] for key in keys}
        return Settings(**values, JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT)

    def reset(self) -> None:
        """Empty tables and files between tests (the worker keeps running)."""
        engine = make_engine(self.environment["DATABASE_URL"])
        with engine.begin() as connection:
            tables = ", ".join(sorted(own_tables()))  # every table of the app's own
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
        engine.dispose()
        empty_dir(self.data_dir)


@contextlib.contextmanager
def running_scaled_stack(
    data_dir: Path, extra: dict[str, str] | None = None
) -> Iterator[ScaledStack]:
    """A fresh database, a Redis namespace and a started worker, with `extra` settings in
    the environment of both; stopped and dropped after."""
    require_postgres()
    require_redis()
    with migrated_database() as database_url:
        environment = {
            **scaled_environment(
                database_url=database_url, redis_url=REDIS_TEST_URL, data_dir=data_dir
            ),
            **(extra or {}),
        }
        log = data_dir.parent / f"{data_dir.name}-worker.log"
        worker = start_worker(environment, log)
        try:
            wait_for_worker_ready(log)
            yield ScaledStack(environment, data_dir)
        finally:
            stop_process(worker)


@pytest.fixture(scope="module")
def scaled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    with running_scaled_stack(tmp_path_factory.mktemp("scaled-data")) as stack:
        yield stack


@pytest.fixture(params=["embedded", "scaled"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "embedded":
        return Settings(
            JOBS_UI_DATA_DIR=tmp_path / "data", JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT
        )
    stack: ScaledStack = request.getfixturevalue("scaled_stack")
    stack.reset()
    return stack.settings()


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services.from_settings(settings)
    services.start()
    try:
        yield services
    finally:
        services.stop()


class ServerThread:
    """uvicorn serving the jobs API on a loopback port, in a thread of this process."""

    def __init__(self, services: Services) -> None:
        # Bound here and handed over, so no other process can take the port in between.
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(create_api(services), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture
def server(services: Services) -> Iterator[ServerThread]:
    with ServerThread(services) as running:
        yield running


# The owner of the jobs the `client` fixture makes and sees (tests that make jobs in the
# store directly give them this owner).
OWNER = "t"


@pytest.fixture
def api_key(services: Services) -> str:
    """An API key of OWNER."""
    return create_key(services.engine, owner=OWNER, scopes=[])[1]


@pytest.fixture
def client(server: ServerThread, api_key: str) -> Iterator[httpx.Client]:
    """A script calling the API as OWNER, with its API key."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.url, timeout=10, headers=headers) as http:
        yield http


@pytest.fixture
def visitor(server: ServerThread) -> Iterator[httpx.Client]:
    """A caller with no credentials: it becomes a visitor and keeps its cookie, like a
    browser (or `curl -c jar -b jar`)."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http
