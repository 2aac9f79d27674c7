"""Real processes of a scaled deployment: Reflex backends, Celery workers, a private Redis."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from jobs_ui.access.api_keys import create_key
from jobs_ui.db import make_engine
from tests.conftest import free_port
from tests.support.services import (
    PROJECT_ROOT,
    migrated_database,
    require_postgres,
    require_redis,
    scaled_environment,
    start_worker,
    stop_process,
    wait_for_worker_ready,
)
from tests.test_reflex_backend import REFLEX, wait_until_serving

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of the test's own, so restarting it disturbs nothing else."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@dataclass
class Deployment:
    """Backends and workers sharing one database, Redis and data dir."""

    environment: dict[str, str]
    logs: Path
    api_key: str  # every client of the deployment calls as this key's owner
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def backend(self) -> httpx.Client:
        """Start `reflex run --env prod --backend-only` on a free port; a client for it."""
        port = free_port()
        log = (self.logs / f"backend-{port}.log").open("ab")
        command = [
            str(REFLEX),
            "run",
            "--env",
            "prod",
            "--backend-only",
            "--backend-port",
            str(port),
        ]
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, url)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=url, timeout=30, headers=headers)

    def worker(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.workers)}.log"
        process = start_worker(self.environment, log)
        self.workers.append(process)
        wait_for_worker_ready(log)
        return process

    def stop(self) -> None:
        for process in self.processes + self.workers:
            stop_process(process)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_redis()  # the same binary and kind of service the machine provides
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def deployment(tmp_path: Path, private_redis: PrivateRedis) -> Iterator[Deployment]:
    require_postgres()
    with migrated_database() as database_url:
        data_dir = tmp_path / "data"
        environment = scaled_environment(
            database_url=database_url, redis_url=private_redis.url, data_dir=data_dir
        )
        engine = make_engine(database_url)
        api_key = create_key(engine, owner="scale-test", scopes=[])[1]
        engine.dispose()
        running = Deployment(environment, tmp_path, api_key)
        try:
            yield running
        finally:
            running.stop()
