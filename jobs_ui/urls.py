"""Where the API lives: its prefix once, and the links a job's result carries."""

from __future__ import annotations

import uuid

API_PREFIX = "/api/import-export"
JOBS_API = f"{API_PREFIX}/jobs"
"""Every job route is below this (routers take it as their prefix; the client calls it)."""


def export_download_url(job_id: uuid.UUID | str) -> str:
    return f"{JOBS_API}/{job_id}/download"


def error_report_url(job_id: uuid.UUID | str) -> str:
    return f"{JOBS_API}/{job_id}/error-report"


DATASETS_API = f"{API_PREFIX}/datasets"
"""What each dataset expects (its fields) and a template file to fill in."""


def dataset_template_url(dataset: str, file_format: str = "csv") -> str:
    return f"{DATASETS_API}/{dataset}/template?format={file_format}"


WEBHOOKS_API = f"{API_PREFIX}/webhooks"
"""A principal's webhooks: registered, listed, deleted, and their deliveries."""
