"""The jobs list says what each job did: an import, a dry run, an undo, an export."""

from __future__ import annotations

import uuid

from jobs_ui.jobs.outcome_text import kind_label
from jobs_ui.models import Job, JobKind


def test_each_kind_of_job_has_its_label():
    assert kind_label(Job(kind=JobKind.IMPORT, dataset="d", params={})) == "Import"
    assert kind_label(Job(kind=JobKind.IMPORT, dataset="d", params={"dryRun": True})) == "Dry run"
    undo = Job(kind=JobKind.IMPORT, dataset="d", params={}, undo_of=uuid.uuid4())
    assert kind_label(undo) == "Undo"
    assert kind_label(Job(kind=JobKind.EXPORT, dataset="d", params={})) == "Export"
