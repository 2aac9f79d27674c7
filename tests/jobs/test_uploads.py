"""Inspected uploads: their owner's alone, taken once, swept after a day."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session

from jobs_ui.access.principal import Principal
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.uploads import UPLOAD_TTL, InspectedUpload
from jobs_ui.models import JobKind, utc_now

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


def failed_import(services, subject="ann"):
    """An import that failed on its columns (the file has no email column)."""
    job_id = uuid.uuid4()
    path = services.files.upload_path(job_id, "people.csv")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"Who,Mail address\nAda,ada@example.com\n")
    job = services.store.create(
        owner=subject,
        kind=JobKind.IMPORT,
        dataset="contacts",
        job_id=job_id,
        params={"upload": services.files.relative(path), "fileName": "people.csv", "format": "csv"},
    )
    services.store.start(job.id)
    return services.store.fail(job.id, error="The file has no column for name, email.")


def test_an_import_that_failed_on_its_columns_is_inspected_again_from_its_own_file(services):
    job = failed_import(services)
    inspection = services.commands.inspect_job(Principal(subject="ann"), job.id)
    assert inspection.preview.columns == ["Who", "Mail address"]
    assert inspection.upload.owner == "ann"
    assert inspection.suggested["email"] == "Mail address"  # an alias of email
    # The new upload is a file of its own: importing it leaves the job's file in place.
    created = services.commands.create_import(
        Principal(subject="ann"),
        dataset="contacts",
        upload_id=inspection.upload.id,
        mapping={"name": "Who", "email": "Mail address"},
    )
    assert created.job.params["mapping"]["name"] == "Who"
    assert services.files.resolve(job.params["upload"]).is_file()


def test_inspecting_another_principals_import_is_not_found(services):
    job = failed_import(services)
    with pytest.raises(CommandError) as caught:
        services.commands.inspect_job(Principal(subject="bob"), job.id)
    assert (caught.value.status, caught.value.message) == (404, "Job not found")


def test_inspecting_an_import_whose_file_is_gone_is_410(services):
    job = failed_import(services)
    services.files.resolve(job.params["upload"]).unlink()
    with pytest.raises(CommandError) as caught:
        services.commands.inspect_job(Principal(subject="ann"), job.id)
    assert caught.value.status == 410


def test_racing_inspects_cannot_pass_the_stored_bytes_quota_together(settings):
    """Each upload is checked again as it is recorded, under the owner's lock."""
    from concurrent.futures import ThreadPoolExecutor

    from jobs_ui.services import Services

    tight = settings.model_copy(update={"max_stored_bytes": 3 * len(CSV)})
    services = Services.from_settings(tight)
    services.start()
    try:

        def one(_n: int) -> str:
            try:
                return str(inspect(services).upload.id)
            except CommandError as error:
                return f"refused {error.status}"

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(one, range(16)))
        kept = [answer for answer in answers if not answer.startswith("refused")]
        assert len(kept) == 3, answers
        assert set(answers) - set(kept) == {"refused 413"}
        assert services.store.usage("ann").stored_bytes == 3 * len(CSV)
        assert len(list(services.files.root.joinpath("inspected").iterdir())) == 3
    finally:
        services.stop()


def test_asking_again_for_an_imports_file_gives_the_same_waiting_upload(services):
    job = failed_import(services)
    first = services.commands.inspect_job(Principal(subject="ann"), job.id)
    again = services.commands.inspect_job(Principal(subject="ann"), job.id)
    assert again.upload.id == first.upload.id
    assert services.commands.inputs.uploads.count_of("ann") == 1


def test_the_sweep_and_an_import_never_both_get_an_upload(services):
    upload = inspect(services).upload
    uploads = services.commands.inputs.uploads
    assert uploads.take(upload.id)  # an import took it first
    assert uploads.sweep(now=utc_now() + UPLOAD_TTL + timedelta(minutes=1)) == 0
    # The import's file is not the sweep's to delete.
    assert services.files.inspected_dir(upload.id).is_dir()


def test_a_mapping_refused_leaves_the_upload_waiting_as_old_as_it_was(services):
    upload = inspect(services).upload
    with pytest.raises(CommandError) as caught:
        services.commands.create_import(
            Principal(subject="ann"),
            dataset="contacts",
            upload_id=upload.id,
            mapping={"name": "Nope", "email": "E-mail"},
        )
    assert caught.value.status == 422
    waiting = services.commands.inputs.uploads.get(upload.id, owner="ann")
    assert waiting is not None and waiting.created_at == upload.created_at
