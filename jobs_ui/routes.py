"""Every page path of the app in one place: the app registers them, links and redirects
use them."""

from __future__ import annotations

HOME = "/"
IMPORTS = "/imports"
IMPORT_JOB = "/imports/[job_id]"
IMPORT_FIX = "/imports/[job_id]/fix"
EXPORTS = "/exports"
EXPORT_JOB = "/exports/[job_id]"
JOBS = "/jobs"


def job_page(kind: str, job_id: str) -> str:
    """The page that shows a job of this kind (IMPORT or EXPORT)."""
    return f"{EXPORTS if kind == 'EXPORT' else IMPORTS}/{job_id}"


def fix_page(import_href: str, job_id: str) -> str:
    """The grid that fixes an import's skipped rows, beside its page at `import_href`."""
    return f"{import_href.rstrip('/')}/{job_id}/fix"
