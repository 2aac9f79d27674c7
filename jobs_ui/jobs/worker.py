"""The Celery app that `celery -A jobs_ui.jobs.worker worker` runs (`make worker`).

Workers read the same environment as the backend (DATABASE_URL, REDIS_URL,
JOBS_UI_DATA_DIR, ...) and must see the same data dir: uploads are read from it and
exports written to it.
"""

from __future__ import annotations

import logging

from jobs_ui.extensions import load_extensions
from jobs_ui.jobs.celery_app import make_celery
from jobs_ui.settings import get_settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

settings = get_settings()
load_extensions(settings)  # the datasets the backend knows, this worker knows too
celery_app = make_celery(settings)
app = celery_app
