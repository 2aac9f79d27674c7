"""Starting and stopping benchmark processes; every one started is stopped.

Also the credentials the benchmark clients carry, as real clients of the access-controlled
API do: an API key of the jobs' owner (`Authorization: Bearer`), made the way
`python -m jobs_ui.admin create-key` makes one, or a job's access token (`?token=`), which
`POST /bench/jobs` returns as the real create routes do. Clients get them in their
environment (BENCH_API_KEY, BENCH_JOB_TOKEN), not on their command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Who owns the benchmark's jobs (bench/server.py's POST /bench/jobs) and its API key.
BENCH_OWNER = "bench"
API_KEY_ENV = "BENCH_API_KEY"
TOKEN_ENV = "BENCH_JOB_TOKEN"


def api_key_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def new_running_job(server: Server) -> tuple[str, str]:
    """A new running job on a benchmark server: its id and its access token."""
    with server.control() as control:
        response = control.post("/jobs")
        response.raise_for_status()
        created = response.json()
    return str(created["jobId"]), str(created["accessToken"])


def drive(server: Server, job_id: str, count: int, gap_ms: float = 5.0) -> list[list[float]]:
    """Commit `count` progress updates to the job in the server's process; [version,
    commit time] of each."""
    with server.control() as control:
        response = control.post(f"/jobs/{job_id}/drive", params={"count": count, "gap_ms": gap_ms})
        response.raise_for_status()
        return list(response.json()["commits"])


def finish(server: Server, job_id: str) -> None:
    """Complete a job made by `new_running_job`, in the server's process."""
    with server.control() as control:
        control.post(f"/jobs/{job_id}/finish").raise_for_status()


def make_api_key(database_url: str, owner: str = BENCH_OWNER) -> str:
    """A new API key for `owner` (no scopes: it sees its owner's jobs alone), made as
    `python -m jobs_ui.admin create-key --owner bench` makes it: migrate, then create."""
    from jobs_ui.access.api_keys import create_key
    from jobs_ui.db import make_engine, migrate

    engine = make_engine(database_url)
    try:
        migrate(engine)
        _row, key = create_key(engine, owner=owner, scopes=[])
    finally:
        engine.dispose()
    return key


def owner_key(data_dir: Path, settings: Mapping[str, str]) -> str:
    """A new API key of the jobs' owner, in the database a server with these `settings` and
    this data dir will use (its own settings, so the same database)."""
    from jobs_ui.settings import Settings

    app_settings = Settings(**{**settings, "JOBS_UI_DATA_DIR": str(data_dir)})
    if app_settings.database_url is None:
        app_settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_api_key(app_settings.sqlalchemy_url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def python_process(
    *args: str,
    stdout: int | None = subprocess.PIPE,
    stdin: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """`env`: variables set for the process on top of this one's environment."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=stdout,
        stdin=stdin,
        env={**os.environ, **(env or {})},
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Server:
    """A benchmark server process: where to reach it, and what it costs."""

    url: str
    port: int
    pid: int
    api_key: str | None = None  # the owner's key, when asked for
    # Where the benchmark makes and drives jobs: the stand-in's own /bench routes, or the
    # product's probe (bench/product_probe.py) on a port of its own.
    control_url: str = ""
    name: str = "stand-in (FastAPI on uvicorn)"
    process: subprocess.Popen[bytes] | None = None  # the app's: Reflex's supervisor
    log: Path | None = None

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.control_url or f"{self.url}/bench", timeout=600)

    @property
    def headers(self) -> dict[str, str]:
        """What a program acting for the jobs' owner sends: its API key."""
        return api_key_headers(self.api_key)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def bench_server(
    data_dir: Path, *, settings: Mapping[str, str] | None = None, api_key: bool = False
) -> Iterator[Server]:
    """The benchmark server (bench/server.py) in its own process.

    `settings`: JOBS_UI_* settings for this server alone, in its environment (a figure that
    needs more than a limit's default for one owner says so). `api_key`: make the owner an
    API key first, in the database the server will use.
    """
    overrides = dict(settings or {})
    key = owner_key(data_dir, overrides) if api_key else None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("-m", "bench.server", "--port", str(port), "--data-dir", str(data_dir))
    with python_process(*args, stdout=None, env=overrides) as process:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                # The owner's list, with its key when it has one: the key works, or this fails.
                answer = httpx.get(
                    f"{url}/api/import-export/jobs", headers=api_key_headers(key), timeout=1
                )
                if answer.status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError("the benchmark server exited as it started")
            time.sleep(0.1)
        else:
            raise RuntimeError("the benchmark server did not start")
        yield Server(url=url, port=port, pid=process.pid, api_key=key)


# The servers the product can run on, as Reflex starts them (see "Which server" in README),
# and the one `make run` and `make backend` use: the figures' "ours".
PRODUCT_SERVERS = {"granian": "true", "uvicorn": "false"}  # REFLEX_USE_GRANIAN
SHIPPED_SERVER = "uvicorn"


def product_servers(smoke: bool) -> list[str]:
    """The servers a figure measures the app on: the shipped one first; a smoke run only it."""
    others = [name for name in PRODUCT_SERVERS if name != SHIPPED_SERVER]
    return [SHIPPED_SERVER] if smoke else [SHIPPED_SERVER, *others]


PRODUCT_START_SECONDS = 90


@contextlib.contextmanager
def product_server(
    data_dir: Path,
    *,
    server: str = SHIPPED_SERVER,
    settings: Mapping[str, str] | None = None,
    api_key: bool = False,
) -> Iterator[Server]:
    """The app's backend started as `make backend` starts it (`reflex run --env prod
    --backend-only`), on `server` (Granian, or uvicorn under gunicorn as Reflex runs it),
    with the benchmark's probe loaded as an extension. Its figures are of the process that
    serves (Reflex's supervisor forks it)."""
    overrides = dict(settings or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    key = owner_key(data_dir, overrides) if api_key else None
    port, probe_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **overrides,
        "JOBS_UI_DATA_DIR": str(data_dir),
        "JOBS_UI_EXTENSIONS": "bench.product_probe",
        "BENCH_PROBE_PORT": str(probe_port),
        "REFLEX_USE_GRANIAN": PRODUCT_SERVERS[server],
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PYTHONPATH": str(ROOT),
    }
    if "DATABASE_URL" not in overrides:  # SQLite in the data dir, as `make backend` has it
        env.pop("DATABASE_URL", None)
    reflex = Path(sys.executable).with_name("reflex")
    command = [str(reflex), "run", "--env", "prod", "--backend-only", "--backend-port", str(port)]
    log = (data_dir / "backend.log").open("ab")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        pid = _wait_for_product(process, url, f"http://127.0.0.1:{probe_port}", key)
        yield Server(
            url=url,
            port=port,
            pid=pid,
            api_key=key,
            control_url=f"http://127.0.0.1:{probe_port}",
            name=f"the app on {server}",
            process=process,
            log=data_dir / "backend.log",
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_for_product(
    process: subprocess.Popen[bytes], url: str, probe: str, key: str | None
) -> int:
    """Once the app answers its API and the probe is up: the serving process's id."""
    deadline = time.monotonic() + PRODUCT_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app's backend exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.get(
                f"{url}/api/import-export/jobs", headers=api_key_headers(key), timeout=1
            )
            if answer.status_code == 200:
                return int(httpx.get(f"{probe}/pid", timeout=1).json()["pid"])
        time.sleep(0.2)
    raise RuntimeError("the app's backend did not start in time")
