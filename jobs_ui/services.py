"""Everything the API needs, built once from the settings and started with the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.access.identity import Identity
from jobs_ui.access.origins import OriginPolicy, origin_policy
from jobs_ui.access.signing import signing_keys
from jobs_ui.access.stream_slots import LocalStreamSlots, RedisStreamSlots, StreamSlots
from jobs_ui.access.tokens import JobTokens
from jobs_ui.access.uploads import UploadCallers
from jobs_ui.access.visitor import VisitorCookies
from jobs_ui.datasets import registry
from jobs_ui.datasets.tables import create_missing_tables
from jobs_ui.db import make_engine, migrate
from jobs_ui.extensions import load_extensions
from jobs_ui.files import DataFiles
from jobs_ui.jobs.celery_app import make_celery, queue_name
from jobs_ui.jobs.commands import JobCommands, WebhookCommands
from jobs_ui.jobs.execution import file_limits
from jobs_ui.jobs.retention import sweep_old_files
from jobs_ui.jobs.runners import CeleryRunner, InProcessRunner, JobRunner, QueueUnavailableError
from jobs_ui.jobs.store import QUEUE_DOWN, JobStore, Notifier
from jobs_ui.live.hub import JobFeedHub
from jobs_ui.live.messages import JobSnapshot, snapshot_of
from jobs_ui.live.redis_relay import RedisListener, RedisPublisher
from jobs_ui.models import JobStatus, utc_now
from jobs_ui.settings import Settings
from jobs_ui.webhooks.endpoints import WebhookEndpoints
from jobs_ui.webhooks.loop import DeliveryLoop, policy_of
from jobs_ui.webhooks.outbox import DeliveryOutbox
from jobs_ui.webhooks.queue import sweep_ended

SWEEP_INTERVAL_SECONDS = 3600.0  # how often old job files are looked for
# Deliveries that ended (delivered, given up, replaced) are kept this long to be listed.
KEEP_DELIVERIES = timedelta(days=30)

log = logging.getLogger(__name__)


def _no_upload_handlers(_name: str) -> bool:
    return False


@dataclass
class Services:
    settings: Settings
    engine: Engine
    files: DataFiles
    store: JobStore
    hub: JobFeedHub[JobSnapshot]
    runner: JobRunner
    commands: JobCommands
    identity: Identity
    visitors: VisitorCookies
    origins: OriginPolicy
    stream_slots: StreamSlots
    webhooks: WebhookCommands
    # The webhook delivery loop when this process runs jobs (in-process); else the workers'.
    deliveries: DeliveryLoop | None = None
    upload_callers: UploadCallers = field(default_factory=UploadCallers)
    # Which Reflex event handlers take uploaded files (the app says; none outside Reflex).
    upload_handlers: Callable[[str], bool] = _no_upload_handlers
    publisher: RedisPublisher | None = None
    listener: RedisListener | None = None
    started: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, app_origins: Callable[[], Iterable[str]] | None = None
    ) -> Services:
        """`app_origins`: where the app's own pages are served from, when that is another
        origin than the API's (Reflex's dev server); asked on each check."""
        load_extensions(settings)  # their datasets and pages, before anything reads the registry
        engine = make_engine(settings.sqlalchemy_url)
        files = DataFiles(settings.data_dir)
        outbox = DeliveryOutbox()  # a job's end writes the webhook deliveries it owes
        store = JobStore(engine, outbox=outbox)
        hub: JobFeedHub[JobSnapshot] = JobFeedHub(lambda job_id: _load_snapshot(store, job_id))
        # A commit in this process wakes its own streams at once; with Redis it also reaches
        # the streams of every other backend process (and theirs reach ours).
        publisher = listener = None
        if settings.redis_url:
            publisher = RedisPublisher(settings.redis_url, settings.namespace)
            listener = RedisListener(
                settings.redis_url,
                settings.namespace,
                on_change=hub.notify,
                on_reconnect=hub.refresh_all,
            )
        store.notify = _both(hub.notify, publisher)
        runner: JobRunner
        policy = policy_of(settings)
        deliveries = None
        if settings.runner_kind == "celery":
            runner = CeleryRunner(make_celery(settings), queue_name(settings))
        else:
            deliveries = DeliveryLoop.from_settings(settings, engine, policy)
            outbox.wake = deliveries.wake  # this process's deliveries go out at once
            runner = InProcessRunner(
                store=store,
                engine=engine,
                files=files,
                concurrency=settings.runner_concurrency,
                limits=file_limits(settings),
                max_attempts=settings.max_attempts,
                deliveries=deliveries,
            )
        keys = signing_keys(settings)
        tokens = JobTokens(keys, lifetime_seconds=settings.access_token_minutes * 60)
        visitors = VisitorCookies(keys)
        commands = JobCommands(
            settings=settings, store=store, files=files, runner=runner, tokens=tokens
        )
        identity = Identity(
            engine=engine,
            tokens=tokens,
            visitors=visitors,
            auth_required=settings.auth == "required",
        )
        origins = origin_policy(settings, **({"app_origins": app_origins} if app_origins else {}))
        stream_slots: StreamSlots = (
            RedisStreamSlots(settings.redis_url, settings.namespace, settings.max_open_streams)
            if settings.redis_url
            else LocalStreamSlots(settings.max_open_streams)
        )
        return cls(
            settings=settings,
            engine=engine,
            files=files,
            store=store,
            hub=hub,
            runner=runner,
            commands=commands,
            identity=identity,
            visitors=visitors,
            origins=origins,
            stream_slots=stream_slots,
            webhooks=WebhookCommands(
                settings=settings, endpoints=WebhookEndpoints(engine), policy=policy
            ),
            deliveries=deliveries,
            publisher=publisher,
            listener=listener,
        )

    def start(self) -> None:
        """Create folders, migrate the schema, settle leftovers, start running jobs."""
        if self.started:
            return
        # Uploads, exports and the signing key are the app's alone (others get no access).
        self.settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.files.prepare()
        if self.settings.runner_kind == "inprocess":
            self.files.clear_scratch()  # only this process imports into this data dir
        migrate(self.engine)
        create_missing_tables(self.engine, registry)
        self.runner.start()
        self.started = True
        log.info("jobs service started (data dir %s)", self.settings.data_dir)

    def stop(self) -> None:
        if not self.started:
            return
        self.runner.shutdown()
        if self.publisher is not None:
            self.publisher.close()
        self.engine.dispose()
        self.started = False

    @contextlib.asynccontextmanager
    async def lifespan(self, *_args: object, **_kwargs: object) -> AsyncIterator[None]:
        await asyncio.to_thread(self.start)
        if self.listener is not None:
            self._tasks.append(asyncio.create_task(self.listener.run()))
        if self.settings.runner_kind == "celery":
            self._tasks.append(asyncio.create_task(self._reap_stale_jobs()))
        self._tasks.append(asyncio.create_task(self._sweep_old_files()))
        self._tasks.append(asyncio.create_task(self.stream_slots.run()))
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            await asyncio.to_thread(self.stop)

    async def _reap_stale_jobs(self) -> None:
        """Queue again the jobs whose worker died (silent for `stale_after_seconds`), or
        end them FAILED once their runs are spent.

        Every backend process runs this; the SQL is conditional, so they never clash.
        """
        older_than = timedelta(seconds=self.settings.stale_after_seconds)
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await asyncio.to_thread(self.requeue_stale_jobs, older_than)
            except SQLAlchemyError:
                log.warning("could not check for stale jobs", exc_info=True)

    def requeue_stale_jobs(self, older_than: timedelta) -> None:
        left = self.store.requeue_stale(
            older_than=older_than, max_attempts=self.settings.max_attempts
        )
        for job in left:
            if job.status is not JobStatus.PENDING:
                continue
            try:
                self.runner.submit(job.id)
            except QueueUnavailableError:
                self.store.fail_unstarted(job.id, error=QUEUE_DOWN)

    async def _sweep_old_files(self) -> None:
        """Delete the files of jobs that ended more than `keep_files_days` ago, inspected
        uploads older than a day, and deliveries that ended `KEEP_DELIVERIES` ago, every
        hour."""
        keep_for = timedelta(days=self.settings.keep_files_days)
        while True:
            try:
                await asyncio.to_thread(sweep_old_files, self.store, self.files, keep_for=keep_for)
                # Inspected files no import took within a day go too.
                await asyncio.to_thread(self.commands.inputs.uploads.sweep)
                await asyncio.to_thread(self.sweep_old_deliveries)
            except (SQLAlchemyError, OSError):
                log.warning("could not delete old job files", exc_info=True)
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)

    def sweep_old_deliveries(self) -> int:
        return sweep_ended(self.engine, ended_before=utc_now() - KEEP_DELIVERIES)


def _both(local: Notifier, remote: Notifier | None) -> Notifier:
    if remote is None:
        return local

    def notify(job_id: uuid.UUID, version: int) -> None:
        local(job_id, version)
        remote(job_id, version)

    return notify


def _load_snapshot(store: JobStore, job_id: uuid.UUID) -> JobSnapshot | None:
    job = store.get(job_id)
    return snapshot_of(job) if job is not None else None
