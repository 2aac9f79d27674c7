"""Every page path of the app in one place: the app registers them, links and redirects
use them."""

from __future__ import annotations

HOME = "/"
IMPORTS = "/imports"
IMPORT_JOB = "/imports/[job_id]"
EXPORTS = "/exports"
EXPORT_JOB = "/exports/[job_id]"
JOBS = "/jobs"


def job_page(kind: str, job_id: str) -> str:
    """The page that shows a job of this kind (IMPORT or EXPORT)."""
    return f"{EXPORTS if kind == 'EXPORT' else IMPORTS}/{job_id}"
