"""The Celery app that `celery -A jobs_ui.jobs.worker worker` runs (`make worker`).

Workers read the same environment as the backend (DATABASE_URL, REDIS_URL,
JOBS_UI_DATA_DIR, ...) and must see the same data dir: uploads are read from it and
exports written to it.

Each worker also sends webhook deliveries: one delivery loop in its main process, started
once the pool's processes are forked (so none inherits its thread or connections) and
stopped as the worker shuts down. Several workers take turns through the deliveries'
leases in the database.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from jobs_ui.db import make_engine
from jobs_ui.extensions import load_extensions
from jobs_ui.jobs.celery_app import make_celery
from jobs_ui.settings import get_settings
from jobs_ui.webhooks.loop import DeliveryLoop

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

settings = get_settings()
load_extensions(settings)  # the datasets the backend knows, this worker knows too
celery_app = make_celery(settings)
app = celery_app

_deliveries: list[DeliveryLoop] = []


def _start_deliveries(**_kwargs: Any) -> None:
    if not _deliveries:
        loop = DeliveryLoop.from_settings(settings, make_engine(settings.sqlalchemy_url))
        loop.start()
        _deliveries.append(loop)


def _stop_deliveries(**_kwargs: Any) -> None:
    while _deliveries:
        loop = _deliveries.pop()
        loop.stop()
        loop.queue.engine.dispose()


worker_ready.connect(_start_deliveries, weak=False)
worker_shutdown.connect(_stop_deliveries, weak=False)
