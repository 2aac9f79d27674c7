"""Everything the API needs, built once from the settings and started with the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Engine

import jobs_ui.dataset_tables  # noqa: F401  (registers the shipped datasets)
from jobs_ui.api.messages import JobSnapshot, snapshot_of
from jobs_ui.db import make_engine, migrate
from jobs_ui.events import JobFeedHub
from jobs_ui.files import DataFiles
from jobs_ui.runner import InProcessRunner, JobRunner
from jobs_ui.settings import Settings
from jobs_ui.store import JobStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    files: DataFiles
    store: JobStore
    hub: JobFeedHub[JobSnapshot]
    runner: JobRunner
    started: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        engine = make_engine(settings.sqlalchemy_url)
        files = DataFiles(settings.data_dir)
        store = JobStore(engine)
        hub: JobFeedHub[JobSnapshot] = JobFeedHub(lambda job_id: _load_snapshot(store, job_id))
        store.notify = hub.notify  # in-process notifications: a commit wakes streams at once
        runner = InProcessRunner(
            store=store, engine=engine, files=files, concurrency=settings.runner_concurrency
        )
        return cls(settings, engine, files, store, hub, runner)

    def start(self) -> None:
        """Create folders, migrate the schema, settle leftovers, start running jobs."""
        if self.started:
            return
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.files.prepare()
        migrate(self.engine)
        self.runner.start()
        self.started = True
        log.info("jobs service started (data dir %s)", self.settings.data_dir)

    def stop(self) -> None:
        if not self.started:
            return
        self.runner.shutdown()
        self.engine.dispose()
        self.started = False

    @contextlib.asynccontextmanager
    async def lifespan(self, *_args: object, **_kwargs: object) -> AsyncIterator[None]:
        await asyncio.to_thread(self.start)
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop)


def _load_snapshot(store: JobStore, job_id: uuid.UUID) -> JobSnapshot | None:
    job = store.get(job_id)
    return snapshot_of(job) if job is not None else None
