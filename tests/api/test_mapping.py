"""Inspecting a file, mapping its columns, and importing with the mapping (API)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from jobs_ui.access.principal import Principal
from jobs_ui.datasets.shipped import Contact
from jobs_ui.services import Services
from tests.support.jobs import wait_for_end, write_csv

INSPECT = "/api/import-export/jobs/inspect"
IMPORT = "/api/import-export/jobs/import"
CRM_HEADER = "Full Name,E-mail,Company,Phone"


def crm_file(tmp_path: Path, rows: int = 3, name: str = "crm.csv") -> Path:
    lines = [CRM_HEADER] + [
        f"Person {n},p{n}@example.com,Acme {n},555-{n:04d}" for n in range(rows)
    ]
    return write_csv(tmp_path / name, lines)


def inspect(
    client: httpx.Client, path: Path, dataset: str = "contacts", **data: str
) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(
            INSPECT, data={"dataset": dataset, **data}, files={"file": (path.name, handle)}
        )


def import_with(client: httpx.Client, *, path: Path | None = None, **data: Any) -> httpx.Response:
    fields = {
        "dataset": "contacts",
        **{k: json.dumps(v) if k == "mapping" else v for k, v in data.items()},
    }
    if path is None:
        return client.post(IMPORT, data=fields, files={"unused": ("", b"")})
    with path.open("rb") as handle:
        return client.post(IMPORT, data=fields, files={"file": (path.name, handle)})


def emails(services) -> set[str]:
    with Session(services.engine) as session:
        return set(session.exec(select(Contact.email)).all())


def test_inspect_answers_columns_rows_and_the_suggested_mapping(client, tmp_path):
    response = inspect(client, crm_file(tmp_path, rows=12))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "uploadId", "fileName", "format", "encoding", "delimiter", "sheets", "sheet",
        "columns", "sampleRows", "suggestedMapping", "missingRequired", "rememberedMapping",
    }  # fmt: skip
    assert body["fileName"] == "crm.csv"
    assert (body["format"], body["encoding"], body["delimiter"]) == ("csv", "utf-8", ",")
    assert (body["sheets"], body["sheet"]) == (None, None)
    assert body["columns"] == ["Full Name", "E-mail", "Company", "Phone"]
    assert len(body["sampleRows"]) == 10
    assert body["sampleRows"][0] == ["Person 0", "p0@example.com", "Acme 0", "555-0000"]
    assert body["suggestedMapping"] == {
        "name": "Full Name", "email": "E-mail", "company": "Company", "phone": "Phone",
    }  # fmt: skip
    assert body["missingRequired"] == []
    assert body["rememberedMapping"] is False


def test_a_crm_export_just_works_without_a_mapping(client, services, tmp_path):
    """The file of the issue: `curl -F file=@crm.csv -F dataset=contacts`."""
    response = import_with(client, path=crm_file(tmp_path))
    assert response.status_code == 201, response.text
    job = wait_for_end(client, response.json()["jobId"])
    assert job["status"] == "COMPLETED", job
    assert job["result"]["importedCount"] == 3
    assert job["result"]["mapping"] == {
        "name": "Full Name", "email": "E-mail", "company": "Company", "phone": "Phone",
    }  # fmt: skip
    assert emails(services) == {"p0@example.com", "p1@example.com", "p2@example.com"}


def test_import_by_upload_id_with_a_mapping_leaves_out_unmapped_fields(client, services, tmp_path):
    inspected = inspect(client, crm_file(tmp_path)).json()
    mapping = {"name": "Company", "email": "E-mail", "phone": None}  # company left out
    response = import_with(client, uploadId=inspected["uploadId"], mapping=mapping)
    assert response.status_code == 201, response.text
    job = wait_for_end(client, response.json()["jobId"])
    assert job["status"] == "COMPLETED", job
    assert job["result"]["mapping"] == {
        "name": "Company",
        "email": "E-mail",
        "company": None,
        "phone": None,
    }
    with Session(services.engine) as session:
        stored = session.exec(select(Contact).order_by(Contact.email)).all()
    first = stored[0]
    assert (first.name, first.email, first.company, first.phone) == (
        "Acme 0",
        "p0@example.com",
        None,
        None,
    )
    # The upload was taken by that import: it cannot be imported twice.
    again = import_with(client, uploadId=inspected["uploadId"])
    assert again.status_code == 404
    assert "Upload not found" in again.json()["error"]


def test_a_mapping_used_is_remembered_for_that_principal_only(client, visitor, tmp_path):
    mapping = {"name": "Company", "email": "E-mail"}
    first = inspect(client, crm_file(tmp_path)).json()
    assert first["rememberedMapping"] is False
    assert import_with(client, uploadId=first["uploadId"], mapping=mapping).status_code == 201
    # The same headers in another order: the same set.
    other = write_csv(
        tmp_path / "again.csv", ["Phone,Company,E-mail,Full Name", "1,Zed,z@example.com,Zed Z"]
    )
    again = inspect(client, other).json()
    assert again["rememberedMapping"] is True
    assert again["suggestedMapping"] == {
        "name": "Company",
        "email": "E-mail",
        "company": None,
        "phone": None,
    }
    # Anybody else gets the plain suggestion.
    theirs = inspect(visitor, other).json()
    assert theirs["rememberedMapping"] is False
    assert theirs["suggestedMapping"]["name"] == "Full Name"


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ({"name": "Full Name", "email": "Mail"}, '"Mail"'),  # a column the file lacks
        ({"name": "Full Name", "email": "E-mail", "fax": "Phone"}, "fax"),  # a field it lacks
        ({"name": "Full Name", "email": None}, "email"),  # a required field unmapped
        ({"name": "E-mail", "email": "E-mail"}, '"E-mail"'),  # one column, two fields
        ({"name": 5}, "column"),  # not a column's name
    ],
)
def test_a_mapping_the_file_cannot_take_is_422_naming_it_and_creates_no_job(
    client, tmp_path, mapping, named
):
    inspected = inspect(client, crm_file(tmp_path)).json()
    for attempt in (
        import_with(client, uploadId=inspected["uploadId"], mapping=mapping),
        import_with(client, path=crm_file(tmp_path, name="again.csv"), mapping=mapping),
    ):
        assert attempt.status_code == 422, attempt.text
        assert named in attempt.json()["error"]
    assert client.get("/api/import-export/jobs").json()["jobs"] == []
    # The upload is still there for a corrected mapping.
    fixed = import_with(
        client, uploadId=inspected["uploadId"], mapping={"name": "Full Name", "email": "E-mail"}
    )
    assert fixed.status_code == 201, fixed.text


def test_headers_that_match_no_required_field_are_422_with_the_columns(client, tmp_path):
    path = write_csv(tmp_path / "odd.csv", ["Who,Where", "Ada,London"])
    inspected = inspect(client, path).json()
    assert inspected["suggestedMapping"] == {
        "name": None,
        "email": None,
        "company": None,
        "phone": None,
    }
    assert inspected["missingRequired"] == ["name", "email"]
    response = import_with(client, path=path)
    assert response.status_code == 422
    assert response.json()["error"].startswith(
        'The file has no column for name, email. Its columns: "Who", "Where".'
    )


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"mapping": "not json"}, 422),
        ({"mapping": "[1, 2]"}, 422),
        ({"uploadId": "nope"}, 422),
        ({"uploadId": "3f2b8c1e-0000-4000-8000-000000000000"}, 404),
    ],
)
def test_bad_fields_are_clear_4xx(client, tmp_path, fields, status):
    response = client.post(
        IMPORT, data={"dataset": "contacts", **fields}, files={"unused": ("", b"")}
    )
    assert response.status_code == status, response.text
    assert response.json()["status"] == status


def test_an_upload_is_its_owners_alone(client, visitor, tmp_path):
    inspected = inspect(client, crm_file(tmp_path)).json()
    stranger = import_with(visitor, uploadId=inspected["uploadId"])
    unknown = import_with(visitor, uploadId="3f2b8c1e-0000-4000-8000-000000000000")
    assert stranger.status_code == unknown.status_code == 404
    assert stranger.json() == unknown.json()
    reinspect = visitor.post(
        INSPECT,
        data={"dataset": "contacts", "uploadId": inspected["uploadId"]},
        files={"unused": ("", b"")},
    )
    assert reinspect.status_code == 404
    # Still the owner's to import.
    assert import_with(client, uploadId=inspected["uploadId"]).status_code == 201


def test_retry_reuses_the_mapping(client, services, tmp_path):
    """A file whose start reads well and whose end does not (a quote never closed) fails
    in the job; its retry runs with the same mapping."""
    lines = [
        CRM_HEADER,
        *(f"P{n},p{n}@example.com,Acme,1" for n in range(20)),
        '"Broken,b@example.com,X,1',
    ]
    path = write_csv(tmp_path / "late-break.csv", lines)
    mapping = {"name": "Company", "email": "E-mail"}
    job = import_with(client, path=path, mapping=mapping).json()
    assert wait_for_end(client, job["jobId"])["status"] == "FAILED"
    retry = client.post(f"/api/import-export/jobs/{job['jobId']}/retry")
    assert retry.status_code == 201, retry.text
    assert wait_for_end(client, retry.json()["jobId"])["status"] == "FAILED"
    stored = services.store.get(uuid.UUID(retry.json()["jobId"]))
    assert stored.params["mapping"] == {
        "name": "Company",
        "email": "E-mail",
        "company": None,
        "phone": None,
    }


def test_an_unreadable_file_is_422_on_inspect(client, tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\x00\x01\x02" * 100)
    response = inspect(client, path)
    assert response.status_code == 422
    assert "not a text file" in response.json()["error"]


def test_a_100_mb_file_is_inspected_from_its_start_alone(settings, tmp_path):
    """The last line is broken (a quote never closed): an inspection that read the whole
    file would fail on it. (How fast it answers is a benchmark's business: bench/.)"""
    path = tmp_path / "big.csv"
    row = b"Person,p@example.com,Acme,555-0000\n"
    with path.open("wb") as handle:
        handle.write(CRM_HEADER.encode() + b"\n")
        handle.write(row * (100 * 1024 * 1024 // len(row)))
        handle.write(b'"never closed,x@example.com,X,1\n')
    assert path.stat().st_size > 100 * 1024 * 1024
    roomy = settings.model_copy(update={"max_upload_bytes": 200 * 1024 * 1024})
    services = Services.from_settings(roomy)
    services.start()
    try:
        with path.open("rb") as source:
            inspection = services.commands.inspect(
                Principal(subject="big"), dataset="contacts", filename="big.csv", source=source
            )
    finally:
        services.stop()
    assert inspection.preview.sample_rows[9] == ["Person", "p@example.com", "Acme", "555-0000"]
    assert inspection.upload.size_bytes == path.stat().st_size


@pytest.mark.parametrize(
    ("data", "files", "status", "says"),
    [
        ({}, {"file": ("crm.csv", b"a,b\n1,2\n")}, 400, "Say which dataset"),
        ({"dataset": "nope"}, {"file": ("crm.csv", b"a,b\n1,2\n")}, 422, "Unknown dataset"),
        ({"dataset": "contacts"}, {"file": ("crm.pdf", b"%PDF")}, 415, "Unsupported file type"),
        ({"dataset": "contacts"}, {"file": ("crm.csv", b"")}, 400, "The file is empty"),
        ({"dataset": "contacts"}, {"none": ("", b"")}, 400, "Attach the file"),
        (
            {"dataset": "contacts", "sheet": "Two"},
            {"file": ("crm.csv", b"a,b\n1,2\n")},
            422,
            "sheet",
        ),
    ],
)
def test_bad_inspect_requests_are_clear_4xx(client, data, files, status, says):
    response = client.post(INSPECT, data=data, files=files)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


def test_inspect_is_not_json(client):
    response = client.post(INSPECT, json={"dataset": "contacts"})
    assert response.status_code == 415


def test_a_mapping_nested_thousands_deep_is_a_422_not_a_crash(client, tmp_path):
    deep = '{"name":' + "[" * 15_000 + "]" * 15_000 + "}"
    fields = {"dataset": "contacts", "mapping": deep}
    with crm_file(tmp_path, name="deep.csv").open("rb") as handle:
        refused = client.post(IMPORT, data=fields, files={"file": ("deep.csv", handle)})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("mapping must be a JSON object")


def test_a_json_line_nested_thousands_deep_is_a_row_to_skip(client, tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(
        '{"name": "Ada", "email": "ada@example.com"}\n'
        + '{"a":' * 100_000
        + "1"
        + "}" * 100_000
        + "\n"
    )
    inspected = inspect(client, path)
    assert inspected.status_code == 200, inspected.text
    job = wait_for_end(
        client, import_with(client, uploadId=inspected.json()["uploadId"]).json()["jobId"]
    )
    assert job["status"] == "COMPLETED", job
    assert (job["result"]["importedCount"], job["result"]["skippedCount"]) == (1, 1)
    assert "nests its values too deeply" in job["result"]["errors"][0]["message"]


def test_an_import_without_a_mapping_never_uses_a_remembered_one(client, tmp_path):
    """The same request imports the same way, whatever its caller mapped before."""
    first = inspect(client, crm_file(tmp_path)).json()
    left_out = {"name": "Full Name", "email": "E-mail", "company": None}
    assert import_with(client, uploadId=first["uploadId"], mapping=left_out).status_code == 201
    again = write_csv(tmp_path / "again.csv", [CRM_HEADER, "Grace,grace@example.com,Navy,1"])
    job = wait_for_end(client, import_with(client, path=again).json()["jobId"])
    assert job["result"]["mapping"]["company"] == "Company"
    assert job["result"]["mapping"]["phone"] == "Phone"
