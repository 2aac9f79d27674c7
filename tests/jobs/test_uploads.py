"""Inspected uploads: their owner's alone, taken once, swept after a day."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlmodel import Session

from jobs_ui.access.principal import Principal
from jobs_ui.jobs.uploads import UPLOAD_TTL, InspectedUpload
from jobs_ui.models import utc_now

CSV = b"Full Name,E-mail\nAda,ada@example.com\n"


def inspect(services, subject="ann"):
    return services.commands.inspect(
        Principal(subject=subject), dataset="contacts", filename="crm.csv", source=io.BytesIO(CSV)
    )


def test_an_upload_is_found_by_its_owner_alone(services):
    upload = inspect(services).upload
    uploads = services.commands.inputs.uploads
    assert uploads.get(upload.id, owner="ann") == upload
    assert uploads.get(upload.id, owner="bob") is None


def test_an_upload_no_import_took_is_swept_after_a_day(services):
    kept = inspect(services).upload
    old = inspect(services).upload
    uploads = services.commands.inputs.uploads
    folder = services.files.inspected_dir(old.id)
    assert folder.is_dir()
    swept = uploads.sweep(now=utc_now() + UPLOAD_TTL - timedelta(minutes=1))
    assert swept == 0
    assert uploads.sweep(now=utc_now() + UPLOAD_TTL + timedelta(minutes=1)) == 2
    assert not folder.exists()
    assert uploads.get(kept.id, owner="ann") is None


def test_an_expired_upload_is_not_found_even_before_the_sweep(services):
    upload = inspect(services).upload
    uploads = services.commands.inputs.uploads
    with Session(services.engine) as session:
        row = session.get(InspectedUpload, upload.id)
        row.created_at = utc_now() - UPLOAD_TTL - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert uploads.get(upload.id, owner="ann") is None


def test_waiting_uploads_count_against_the_stored_bytes_quota(services):
    before = services.store.usage("ann").stored_bytes
    inspect(services)
    assert services.store.usage("ann").stored_bytes == before + len(CSV)


def test_an_upload_is_taken_by_one_import_only(services):
    upload = inspect(services).upload
    uploads = services.commands.inputs.uploads
    assert uploads.take(upload.id) is True
    assert uploads.take(upload.id) is False
