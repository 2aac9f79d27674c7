"""Figure 7: figure 1's measurement across processes, as a scaled deployment runs it.

A Celery worker process (bench/scale_worker.py) commits progress updates to a job through
its own JobStore, which publishes each change to Redis; the SSE stream is served by another
process, the app's backend as `make backend` starts it (with DATABASE_URL and REDIS_URL set,
and the benchmark's probe, bench/product_probe.py, to make the job), whose Redis listener
wakes its fan-out hub, which re-reads the row from PostgreSQL. A change's
latency is the time from its commit in the worker to the first moment the client holds that
version or a later one (time.perf_counter is CLOCK_MONOTONIC, one clock for all processes).
Baseline, in the same run against the same backend: polling GET /jobs/{id} every 2 s.

As in figure 1 the subscriber is a program following its own job: it carries the owner's API
key (`Authorization: Bearer`, made in the fresh database as `create-key` makes it) on the
stream and on every poll. With Redis the backend counts open streams in Redis, as deployed.

Everything runs in isolation: a fresh PostgreSQL database (dropped at the end), a private
redis-server on a free port, and a namespace of its own. The details also break the SSE
latency down: the worker's commit and publish, Redis delivery to a second subscriber, and
one hub re-read of the row.

Run: python -m bench.scale_latency [--smoke]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from celery import Celery

from bench.postgres import NotMeasured, fresh_database
from bench.processes import (
    API_KEY_ENV,
    ROOT,
    SHIPPED_SERVER,
    Server,
    api_key_headers,
    free_port,
    make_api_key,
    new_running_job,
    product_server,
    python_process,
)
from bench.stats import Figure, summary_ms

NAME = "7. Scale-out latency: Celery worker -> Redis -> another backend (SSE)"
GOAL = "p50 <= 10 ms"
# The bench-only task of bench/scale_worker.py (which imports this name).
DRIVE_TASK = "bench.drive_progress"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CELERY = Path(sys.executable).with_name("celery")
START_SECONDS = 60.0  # for a backend or a worker to come up
ROW_READS = 200  # samples of the hub's re-read of the row, for the breakdown


@dataclass
class Deployment:
    """One backend, one worker, a private Redis and a fresh database, all of this run's."""

    backend: Server
    database_url: str
    redis_url: str
    namespace: str
    api_key: str  # the jobs' owner's, for the subscriber
    celery: Celery
    worker: subprocess.Popen[bytes]
    worker_log: Path
    workdir: Path


# --- measuring -------------------------------------------------------------------------


def measure(
    deployment: Deployment, mode: str, count: int, gap_ms: float
) -> dict[str, dict[str, float]]:
    """Have the worker commit `count` updates `gap_ms` apart while one `mode` subscriber
    (sse or poll) follows the job on the backend; latencies and where the time went."""
    headers = api_key_headers(deployment.api_key)
    with httpx.Client(base_url=deployment.backend.url, headers=headers, timeout=30) as client:
        job_id, _token = new_running_job(deployment.backend)
        job = client.get(f"/api/import-export/jobs/{job_id}")
        job.raise_for_status()
        first_version = job.json()["version"]
    last = first_version + count
    output = deployment.workdir / f"commits-{job_id}.json"
    args = ("-m", "bench.subscriber", deployment.backend.url, job_id, mode, str(last))
    with (
        python_process(*args, env={API_KEY_ENV: deployment.api_key}) as subscriber,
        RedisTap(deployment.redis_url, deployment.namespace, job_id) as tap,
    ):
        if read_line(subscriber, timeout=30) != "ready":
            raise RuntimeError(f"the {mode} subscriber did not start")
        deployment.celery.send_task(DRIVE_TASK, args=[job_id, count, gap_ms, str(output)])
        commits = wait_for_commits(deployment, output, count * (gap_ms / 1000 + 0.05) + 30)
        # Polling sees the last version up to one period after it was committed.
        arrivals = {int(v): t for v, t in json.loads(read_line(subscriber, timeout=30)).items()}
    committed = {int(version): at for version, _began, at, _published in commits}
    return {
        "latency": summary_ms(latencies(committed, arrivals)),
        "commit": summary_ms([at - began for _v, began, at, _p in commits]),
        "publish": summary_ms([published - at for _v, _b, at, published in commits]),
        "redis_delivery": summary_ms(latencies(committed, tap.arrivals)),
    }


def latencies(committed: dict[int, float], arrivals: dict[int, float]) -> list[float]:
    """For each committed version, when a client first held it or a later one, minus when it
    was committed. Rapid changes may arrive merged, so a later version counts."""
    if not arrivals:
        raise RuntimeError("no version arrived")
    first_holding: dict[int, float] = {}
    earliest = float("inf")
    for version in sorted(arrivals, reverse=True):
        earliest = min(earliest, arrivals[version])
        first_holding[version] = earliest
    known = sorted(first_holding)
    result = []
    for version, at in committed.items():
        index = bisect.bisect_left(known, version)
        if index == len(known):
            raise RuntimeError(f"version {version} never arrived")
        result.append(first_holding[known[index]] - at)
    return result


class RedisTap:
    """A second subscriber to the change channel, beside the backend's listener: when each
    change reached a Redis subscriber, to tell Redis's share of the latency from the rest."""

    def __init__(self, url: str, namespace: str, job_id: str) -> None:
        from jobs_ui.live.redis_relay import changes_channel, decode_change

        self._decode = decode_change
        self._job_id = uuid.UUID(job_id)
        self._pubsub = redis.Redis.from_url(url, socket_timeout=5).pubsub()
        self._pubsub.subscribe(changes_channel(namespace))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="redis-tap", daemon=True)
        self.arrivals: dict[int, float] = {}

    def __enter__(self) -> RedisTap:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pubsub.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is None or message.get("type") != "message":
                continue
            arrived = time.perf_counter()
            change = self._decode(message["data"])
            if change is not None and change[0] == self._job_id:
                self.arrivals.setdefault(change[1], arrived)


def row_reads(database_url: str, job_id: uuid.UUID, count: int) -> dict[str, float]:
    """What the hub does per change, timed here: read the row and encode its event."""
    from jobs_ui.db import make_engine
    from jobs_ui.jobs.store import JobStore
    from jobs_ui.live.messages import snapshot_of

    engine = make_engine(database_url)
    store = JobStore(engine)
    try:
        store.get(job_id)  # connect first: the backend's pool is warm too
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            job = store.get(job_id)
            if job is None:
                raise RuntimeError(f"job {job_id} vanished")
            snapshot_of(job)
            samples.append(time.perf_counter() - began)
        return summary_ms(samples)
    finally:
        engine.dispose()


def read_line(process: subprocess.Popen[str], *, timeout: float) -> str:
    """The process's next line of output, waiting at most `timeout` seconds for it."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines:  # the caller's python_process stops the process, which ends the reader
        raise TimeoutError(f"no output from process {process.pid} within {timeout} s")
    return lines[0].strip()


def wait_for_commits(deployment: Deployment, output: Path, timeout: float) -> list[list[float]]:
    """The worker's record of its commits, once its task has written it."""
    wait_until(output.exists, timeout, "the drive task", deployment.worker, deployment.worker_log)
    record = json.loads(output.read_text())
    if record["error"]:
        raise RuntimeError(f"the drive task failed: {record['error']}")
    return list(record["commits"])


# --- the deployment --------------------------------------------------------------------


def wait_until(
    done: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes],
    log: Path | None = None,
) -> None:
    """Poll `done` every 50 ms; fail if `process` exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited waiting for {what}{tail(log)}")
        time.sleep(0.05)
    raise RuntimeError(f"gave up waiting for {what} after {timeout} s{tail(log)}")


def tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "; its log ends:\n" + log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def started(
    command: Sequence[str], environment: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own group, so stopping it stops its children too (Celery's pool)."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A redis-server of this run's own on a free port (as the tests' PrivateRedis)."""
    if not Path(REDIS_SERVER).exists():
        raise NotMeasured("redis-server is not installed")
    port = free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    with started(command, dict(os.environ), workdir / "redis.log") as process:
        client = redis.Redis(port=port, socket_timeout=0.5)

        def answers() -> bool:
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            return False

        try:
            wait_until(answers, 10, "redis-server", process)
        except RuntimeError as error:
            raise NotMeasured(f"a private redis-server does not answer ({error})") from None
        finally:
            client.close()
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def deployment() -> Iterator[Deployment]:
    """Start everything, each step waiting until ready; stop everything, whatever happens."""
    from jobs_ui.jobs.celery_app import make_celery
    from jobs_ui.live.redis_relay import changes_channel
    from jobs_ui.settings import Settings

    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-")))
        database_url = stack.enter_context(fresh_database())
        api_key = make_api_key(database_url)
        redis_url = stack.enter_context(private_redis(workdir))
        namespace = f"bench-{uuid.uuid4().hex[:10]}"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JOBS_UI_BROKER_URL": redis_url,
            "JOBS_UI_RUNNER": "celery",
            "JOBS_UI_DATA_DIR": str(workdir / "data"),
            "JOBS_UI_NAMESPACE": namespace,
        }
        # The app's backend as `make backend` starts it (it waits until the app serves).
        app_settings = {k: v for k, v in environment.items() if k not in os.environ}
        backend = stack.enter_context(
            product_server(workdir / "data", server=SHIPPED_SERVER, settings=app_settings)
        )
        assert backend.process is not None
        tap = stack.enter_context(contextlib.closing(redis.Redis.from_url(redis_url)))

        def subscribed() -> bool:  # the backend's Redis listener is in place
            counts = dict(tap.pubsub_numsub(changes_channel(namespace)))
            return int(counts.get(changes_channel(namespace).encode(), 0)) >= 1

        wait_until(
            subscribed, START_SECONDS, "the backend's Redis listener", backend.process, backend.log
        )
        worker_log = workdir / "worker.log"
        celery = [str(CELERY), "-A", "bench.scale_worker", "worker", "--loglevel=INFO",
                  "--concurrency=2"]  # fmt: skip
        worker = stack.enter_context(started(celery, environment, worker_log))

        def worker_ready() -> bool:
            return b"ready." in worker_log.read_bytes()

        wait_until(worker_ready, START_SECONDS, "the worker to be ready", worker, worker_log)
        settings = Settings(REDIS_URL=redis_url, JOBS_UI_BROKER_URL=redis_url,
                            JOBS_UI_NAMESPACE=namespace)  # fmt: skip
        client = make_celery(settings)
        stack.callback(client.close)
        yield Deployment(
            backend=backend,
            database_url=database_url,
            redis_url=redis_url,
            namespace=namespace,
            api_key=api_key,
            celery=client,
            worker=worker,
            worker_log=worker_log,
            workdir=workdir,
        )


# --- the figure ------------------------------------------------------------------------


def run(*, smoke: bool = False) -> list[Figure]:
    """Figure 7; without PostgreSQL or Redis it says "not measured" (CI=true: it fails)."""
    updates, samples, poll_gap_ms = (50, 3, 450) if smoke else (1000, 15, 1370)
    try:
        with deployment() as running:
            sse = measure(running, "sse", updates, gap_ms=5)
            # The gap is no multiple of the 2 s period, so changes land all over a poll cycle.
            polling = measure(running, "poll", samples, gap_ms=poll_gap_ms)
            job_id = uuid.UUID(new_running_job(running.backend)[0])
            reads = row_reads(running.database_url, job_id, ROW_READS)
    except NotMeasured as reason:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"figure 7 not measured: {reason}") from None
        text = "not measured: " + " ".join(str(reason).split())  # one line: a table cell
        return [Figure(NAME, ours=text, baseline="not measured", ratio=None, goal=GOAL, met=None)]
    ours, baseline = sse["latency"], polling["latency"]
    return [
        Figure(
            name=NAME,
            ours=f"p50 {ours['p50_ms']} ms, p99 {ours['p99_ms']} ms (API key)",
            baseline=f"polling 2 s (API key): p50 {baseline['p50_ms']} ms",
            ratio=round(baseline["p50_ms"] / ours["p50_ms"], 1),
            goal=GOAL,
            met=ours["p50_ms"] <= 10,
            details={
                "sse": ours,
                "polling_2s": baseline,
                "credential": "the owner's API key (Authorization: Bearer)",
                # Where the SSE latency goes, each from the same commit time except `commit`
                # (the worker's UPDATE + COMMIT + read-back, before it) and `row_read`.
                "sse_breakdown": {
                    "commit": sse["commit"],
                    "publish": sse["publish"],
                    "redis_delivery": sse["redis_delivery"],
                    "row_read": reads,
                },
            },
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the script runs")
    args = parser.parse_args()
    began = time.monotonic()
    for figure in run(smoke=args.smoke):
        print(json.dumps(figure.as_dict(), indent=2))
    print(f"{time.monotonic() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
