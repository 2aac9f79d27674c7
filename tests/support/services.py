"""Real Postgres, Redis and Celery for tests: found, isolated per use, and cleaned up.

The machine (and CI) runs PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`) and
Redis on 127.0.0.1:6379. Without them these tests are skipped, except under CI (CI=true),
where a missing service is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

POSTGRES_ADMIN_URL = os.environ.get(
    "JOBS_UI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("JOBS_UI_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBITMQ_TEST_URL = os.environ.get("JOBS_UI_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def require(service: str, probe: callable) -> None:  # type: ignore[valid-type]
    try:
        probe()
    except Exception as error:
        reason = f"{service} is not reachable ({error}); start it as the README says"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def require_postgres() -> None:
    require("PostgreSQL", lambda: psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2).close())


def require_redis() -> None:
    require("Redis", lambda: redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2).ping())


def require_rabbitmq() -> None:
    from kombu import Connection

    def probe() -> None:
        with Connection(RABBITMQ_TEST_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)

    require("RabbitMQ", probe)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty Postgres database for the duration; yields its SQLAlchemy URL."""
    name = f"jobs_ui_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def migrated_database() -> Iterator[str]:
    """A fresh database with the app's schema, as the first backend would leave it."""
    from jobs_ui.db import make_engine, migrate

    with fresh_database() as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


def scaled_environment(*, database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    """Environment for backends and workers of one isolated scaled deployment."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JOBS_UI_DATA_DIR": str(data_dir),
        "JOBS_UI_NAMESPACE": f"test-{uuid.uuid4().hex[:10]}",
        "JOBS_UI_HEARTBEAT_SECONDS": "0.5",
        "JOBS_UI_STALE_AFTER_SECONDS": "3",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "GRANIAN_WORKERS": "1",
    }


def start_worker(environment: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real Celery worker process (its own process group, so a kill takes it whole)."""
    log = log_path.open("ab")
    return subprocess.Popen(
        [str(CELERY), "-A", "jobs_ui.jobs.worker", "worker", "--loglevel=INFO", "--concurrency=2"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for_worker_ready(log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists() and b"ready." in log_path.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not become ready:\n{log_path.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def empty_dir(path: Path) -> None:
    for child in path.iterdir() if path.exists() else ():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
