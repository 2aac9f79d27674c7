"""Celery as the second runner: the backend enqueues, workers run the same job code.

`make_celery(settings)` builds the app both sides use; `jobs_ui.jobs.worker` holds the one that
`celery -A jobs_ui.jobs.worker worker` starts (see `make worker`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Engine

from jobs_ui.db import make_engine
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import execute_job, file_limits
from jobs_ui.jobs.store import JobStore
from jobs_ui.live.redis_relay import RedisPublisher
from jobs_ui.settings import Settings
from jobs_ui.webhooks.outbox import DeliveryOutbox

log = logging.getLogger(__name__)

RUN_JOB_TASK = "jobs_ui.run_job"


def queue_name(settings: Settings) -> str:
    return f"{settings.namespace}.jobs"


@dataclass
class WorkerContext:
    """What a worker process needs to run jobs; built once per process, after any fork."""

    engine: Engine
    store: JobStore
    files: DataFiles

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerContext:
        engine = make_engine(settings.sqlalchemy_url)
        notify = (
            RedisPublisher(settings.redis_url, settings.namespace) if settings.redis_url else None
        )
        # A job's end writes the deliveries it owes; the worker's delivery loop, in its main
        # process, finds them on its next look (a pool process cannot wake it).
        outbox = DeliveryOutbox()
        store = JobStore(engine, notify, outbox) if notify else JobStore(engine, outbox=outbox)
        return cls(engine=engine, store=store, files=DataFiles(settings.data_dir))


def make_celery(settings: Settings) -> Celery:
    app = Celery(settings.namespace, broker=settings.celery_broker_url)
    app.conf.update(
        task_default_queue=queue_name(settings),
        task_ignore_result=True,
        # Jobs are long: a worker takes one message at a time, so others stay free to run.
        worker_prefetch_multiplier=1,
        # Acknowledged on receipt: a killed worker's job is found by the heartbeat reaper,
        # which queues it again as a new run (its attempt), so the old run, if it was only
        # slow, can write nothing more; the broker redelivering it would know none of that.
        task_acks_late=False,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    context: WorkerContext | None = None

    @app.task(name=RUN_JOB_TASK)  # type: ignore[untyped-decorator]  # celery ships no type hints
    def run_job(job_id: str) -> None:
        nonlocal context
        if context is None:
            context = WorkerContext.from_settings(settings)
        execute_job(
            uuid.UUID(job_id),
            store=context.store,
            engine=context.engine,
            files=context.files,
            heartbeat_seconds=settings.heartbeat_seconds,
            limits=file_limits(settings),
            max_attempts=settings.max_attempts,
        )

    return app
