"""Schemathesis hooks for tests/api/test_openapi.py (loaded through SCHEMATHESIS_HOOKS).

The list's `cursor` has a format of its own (`jobs-cursor`): only cursors this API hands
out are valid, which no JSON Schema keyword can say. Taught here how to make them, the
fuzzer sends valid cursors as valid data (any moment and job id make one).
"""

from __future__ import annotations

from datetime import UTC

import schemathesis
from hypothesis import strategies as st

from jobs_ui.api.jobs import CURSOR_FORMAT
from jobs_ui.jobs.commands.base import encode_cursor
from jobs_ui.models import Job, JobKind


def _cursor(created, job_id) -> str:  # type: ignore[no-untyped-def]
    return encode_cursor(Job(id=job_id, created_at=created, kind=JobKind.EXPORT, dataset="x"))


schemathesis.openapi.format(
    CURSOR_FORMAT, st.builds(_cursor, st.datetimes(timezones=st.just(UTC)), st.uuids())
)
