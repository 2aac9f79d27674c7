"""The OpenAPI document is true: typed, every answer declared, and schemathesis holds the
running API to it (all checks, negative cases too)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs_ui.client import JobUpdate
from jobs_ui.live.messages import snapshot_of
from jobs_ui.live.sse import format_event
from jobs_ui.models import Job, JobKind, JobStatus, job_public
from jobs_ui.schemas import JobPublic, StatusUpdateMessage
from tests.support.jobs import start_export, wait_for_end

API = "/api/import-export"
JOBS = f"{API}/jobs"
STREAM = f"{JOBS}/ws"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = 20260131
MAX_EXAMPLES = 15  # about 30 s for the whole run


def document(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_route_declares_its_answers(client):
    doc = document(client)
    schemas = doc["components"]["schemas"]
    for name in ("JobPublic", "JobList", "CreatedJobPublic", "AccessTokenPublic", "ErrorBody"):
        assert name in schemas, name
    # Ours answers validation errors as ErrorBody: FastAPI's own shape is nowhere.
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    models = {
        ("get", JOBS): "JobList",
        ("get", f"{JOBS}/{{job_id}}"): "JobPublic",
        ("post", f"{JOBS}/{{job_id}}/cancel"): "JobPublic",
        ("post", f"{JOBS}/{{job_id}}/retry"): "CreatedJobPublic",
        ("post", f"{JOBS}/{{job_id}}/token"): "AccessTokenPublic",
        ("post", f"{JOBS}/export"): "CreatedJobPublic",
        ("post", f"{JOBS}/import"): "CreatedJobPublic",
    }
    for (method, path), model in models.items():
        responses = doc["paths"][path][method]["responses"]
        success = next(code for code in responses if code.startswith("2"))
        body = responses[success]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}, (method, path)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            errors = {
                code: answer for code, answer in operation["responses"].items() if code >= "4"
            }
            assert "400" in errors, (method, path)  # the guard refuses unknown hosts anywhere
            for code, answer in errors.items():
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    import_op = doc["paths"][f"{JOBS}/import"]["post"]
    assert set(import_op["responses"]) >= {"201", "400", "401", "403", "413", "415", "422", "429"}
    form = import_op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form == {"$ref": "#/components/schemas/ImportForm"}
    assert schemas["ImportForm"]["properties"]["file"]["format"] == "binary"
    assert "contacts" in schemas["ImportForm"]["properties"]["dataset"]["enum"]
    download = doc["paths"][f"{JOBS}/{{job_id}}/download"]["get"]["responses"]
    assert {"text/csv", "application/x-ndjson"} <= set(download["200"]["content"])
    assert "text/event-stream" in doc["paths"][STREAM]["get"]["responses"]["200"]["content"]


def test_path_ids_are_uuids_and_a_malformed_one_is_a_400(client):
    """Job ids are UUIDs; a dataset's name is one of the datasets registered."""
    doc = document(client)
    typed = named = 0
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "name":
                    assert parameter["schema"]["enum"] == ["contacts", "products"], path
                    named += 1
                elif parameter["in"] == "path":
                    assert parameter["schema"]["format"] == "uuid", path
                    typed += 1
    # jobs: get, cancel, retry, commit, undo, token, ...; webhooks: delete, deliveries
    assert (typed, named) == (13, 1)
    response = client.post(f"{JOBS}/not-a-uuid/cancel")
    assert response.status_code == 400
    assert response.json() == {
        "error": "jobId 'not-a-uuid' is not a valid job id (a UUID).",
        "status": 400,
    }


def test_methods_a_path_lacks_are_405_with_allow(client):
    for method, path, allowed in (
        ("GET", f"{JOBS}/import", "POST"),  # the import's path, not a job id
        ("GET", f"{JOBS}/export", "POST"),
        ("PUT", f"{JOBS}/import", "POST"),
        ("DELETE", f"{JOBS}/{uuid.uuid4()}", "GET"),
        ("TRACE", f"{JOBS}/{uuid.uuid4()}/cancel", "POST"),
        ("PATCH", JOBS, "GET"),
    ):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path)
        assert response.json()["status"] == 405


def test_unknown_methods_get_the_paths_own_allow_or_a_404(client):
    """Methods no route takes (Starlette answers those itself): the path's real methods,
    and a path the API does not have is a 404, whatever the method."""
    for method, path, status, allowed in (
        ("PROPFIND", f"{JOBS}/{uuid.uuid4()}", 405, "GET"),
        ("FOO", f"{JOBS}/import", 405, "POST"),
        ("FOO", "/api/import-export/no-such-thing", 404, None),
        ("M-SEARCH", f"{JOBS}/{uuid.uuid4()}/nope", 404, None),
    ):
        response = client.request(method, path)
        assert response.status_code == status, (method, path)
        assert response.headers.get("allow") == allowed, (method, path)
        assert response.json()["status"] == status


def test_beside_reflex_every_api_path_gets_the_apis_answer_and_the_rest_reflexs(services):
    """Inside Reflex the API sits beside Reflex's app (jobs_ui.api.beside_reflex), which
    answers everything else (its pages: GET, HEAD): a path under the API, even one no route
    has or a method none takes, gets the API's own JSON answer, never a page."""
    from fastapi.testclient import TestClient
    from starlette.responses import PlainTextResponse
    from starlette.routing import Router

    from jobs_ui.api.app import create_api
    from jobs_ui.api.beside_reflex import ApiBesideReflex

    reflex = Router(routes=[])
    reflex.add_route("/{path:path}", lambda _r: PlainTextResponse("page"), methods=["GET", "HEAD"])
    both = ApiBesideReflex(prefix="/api/import-export", api=create_api(services), reflex=reflex)
    with TestClient(both, base_url="http://localhost") as client:
        for method, path, status, allowed in (
            ("FOO", f"{JOBS}/import", 405, "POST"),
            ("DELETE", f"{JOBS}/{uuid.uuid4()}", 405, "GET"),
            ("PROPFIND", "/api/import-export/nothing-here", 404, None),
            ("GET", "/api/import-export", 404, None),
        ):
            response = client.request(method, path)
            assert response.status_code == status, (method, path, response.text)
            assert response.headers.get("allow") == allowed, (method, path)
            assert response.json()["status"] == status
        for path in ("/", "/imports", "/api/import-exports-lookalike"):
            response = client.get(path)
            assert (response.status_code, response.text) == (200, "page"), path


def fixed_job() -> Job:
    return Job(
        id=uuid.UUID("12345678-1234-4234-8234-123456789abc"),
        kind=JobKind.EXPORT,
        dataset="contacts",
        status=JobStatus.COMPLETED,
        progress=100,
        message="Exported 2 rows",
        result={"fileName": "contacts.csv", "rowCount": 2, "sizeBytes": 40, "format": "csv"},
        version=4,
        owner="t",
        created_at=datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
        started_at=datetime(2026, 1, 31, 12, 0, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 31, 12, 0, 2, 5000),  # naive, as SQLite hands it back
        finished_at=datetime(2026, 1, 31, 12, 0, 2, 5000, tzinfo=UTC),
    )


FIXED_JSON = (
    '{"jobId":"12345678-1234-4234-8234-123456789abc","status":"COMPLETED","progress":100,'
    '"error":null,"result":{"fileUrl":"/api/import-export/jobs/'
    '12345678-1234-4234-8234-123456789abc/download","fileName":"contacts.csv",'
    '"rowCount":2,"sizeBytes":40,"format":"csv"},"updatedAt":"2026-01-31T12:00:02.005Z",'
    '"message":"Exported 2 rows","rowsPerSecond":null,"etaSeconds":null,'
    '"kind":"EXPORT","dataset":"contacts","version":4,"attempt":1,'
    '"retryOf":null,"commitOf":null,"undoOf":null,"undoneBy":null,"fixOf":null,'
    '"createdAt":"2026-01-31T12:00:00.123Z",'
    '"startedAt":"2026-01-31T12:00:01.000Z","finishedAt":"2026-01-31T12:00:02.005Z"}'
)


def test_the_status_update_event_is_the_rest_json_plus_type_byte_for_byte():
    job = fixed_job()
    assert job_public(job).model_dump_json() == FIXED_JSON
    expected = (
        b"id: 4\n"
        b'data: {"type":"status_update",' + FIXED_JSON[1:].encode() + b"\n\n"
    )  # fmt: skip
    assert snapshot_of(job).event == expected
    assert format_event(StatusUpdateMessage.of(job_public(job)), event_id=4) == expected


def test_the_stream_sends_what_the_rest_api_sends(client):
    job = wait_for_end(client, start_export(client)["jobId"])
    rest = client.get(f"{JOBS}/{job['jobId']}").content
    stream = client.get(STREAM, params={"jobId": job["jobId"]}).content
    assert b'data: {"type":"status_update",' + rest[1:] + b"\n\n" in stream


def test_the_client_parses_the_rest_json_into_the_model(client):
    created = start_export(client)
    job = wait_for_end(client, created["jobId"])
    public = JobPublic.model_validate(job)
    assert public.model_dump(mode="json") == job  # every field, both ways
    assert public.status is JobStatus.COMPLETED and public.kind is JobKind.EXPORT
    update = JobUpdate.from_json(job)
    assert (update.job_id, update.status, update.version) == (
        job["jobId"],
        "COMPLETED",
        job["version"],
    )
    assert update.result == job["result"] and update.updated_at == job["updatedAt"]
    assert update.created_at == job["createdAt"] and update.is_final
    with pytest.raises(ValueError):  # not the job JSON: refused, not half-read
        JobUpdate.from_json({"jobId": job["jobId"], "status": "DONE"})


def test_engines_store_no_urls_and_the_public_result_links_the_files(client, services):
    export = wait_for_end(client, start_export(client)["jobId"])
    stored = services.store.get(uuid.UUID(export["jobId"]))
    assert stored is not None and stored.result is not None
    assert "fileUrl" not in stored.result and "errorReportUrl" not in stored.result
    assert export["result"]["fileUrl"] == f"{JOBS}/{export['jobId']}/download"


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_schemathesis_finds_nothing(server, api_key, tmp_path):
    report = tmp_path / "junit.xml"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{server.url}{API}/openapi.json",
        "--checks",
        "all",
        "--exclude-path",
        STREAM,  # an endless stream: covered by tests/api/test_stream.py
        "--mode",
        "all",  # negative cases too
        "--phases",
        "coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {api_key}",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--no-color",
    ]
    root = Path(__file__).resolve().parents[2]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py")),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    # Run in the test's own folder: schemathesis keeps its state beside where it runs.
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=environment, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    suites = ElementTree.parse(report).getroot()
    failures = sum(int(suite.get("failures", 0)) for suite in suites.iter("testsuite"))
    errors = sum(int(suite.get("errors", 0)) for suite in suites.iter("testsuite"))
    tests = sum(int(suite.get("tests", 0)) for suite in suites.iter("testsuite"))
    assert (failures, errors) == (0, 0) and tests >= 9, run.stdout[-6000:]
