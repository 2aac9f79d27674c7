"""Modes, dry run then commit, and undo, through the HTTP API (embedded and scaled)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from jobs_ui.access.principal import Principal
from jobs_ui.datasets.shipped import Product
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.lineage import JobLineage
from jobs_ui.jobs.retention import sweep_old_files
from jobs_ui.models import JobKind, utc_now
from jobs_ui.services import Services
from tests.conftest import OWNER
from tests.support.jobs import wait_for_end, write_csv

JOBS = "/api/import-export/jobs"
STORED = ["sku,name,price,stock", "A,Apple,1.50,10", "B,Banana,0.25,20", "C,Cherry,3.00,30"]
# A unchanged, B changed (price), C changed (name), D new
CHANGED = ["sku,name,price,stock", "A,Apple,1.50,10", "B,Banana,0.30,20", "C,Cherries,3.00,30"]
CHANGED.append("D,Date,2.00,5")


def send(client: httpx.Client, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(
            f"{JOBS}/import",
            data={"dataset": "products", **fields},
            files={"file": (path.name, handle)},
        )


def imported(client: httpx.Client, path: Path, **fields: str) -> dict[str, Any]:
    response = send(client, path, **fields)
    assert response.status_code == 201, response.text
    job = wait_for_end(client, response.json()["jobId"])
    assert job["status"] == "COMPLETED", job
    return job


def products(services: Services) -> list[tuple[str, str, Decimal, int]]:
    with Session(services.engine) as session:
        rows = session.exec(select(Product).order_by(Product.sku)).all()
        return [(p.sku, p.name, Decimal(p.price).normalize(), p.stock) for p in rows]


def checksum(services: Services) -> str:
    return hashlib.sha256(repr(products(services)).encode()).hexdigest()


@pytest.fixture
def stored(client: httpx.Client, tmp_path: Path) -> dict[str, Any]:
    return imported(client, write_csv(tmp_path / "stored.csv", STORED))


def test_upsert_counts_and_the_job_json_lineage(client, services, stored, tmp_path):
    job = imported(client, write_csv(tmp_path / "week.csv", CHANGED), mode="upsert")
    result = job["result"]
    assert result["mode"] == "upsert" and result["dryRun"] is False
    counts = [result[n] for n in ("createdCount", "updatedCount", "unchangedCount", "skippedCount")]
    assert counts == [1, 2, 1, 0] and result["importedCount"] == 3
    assert job["message"] == "Created 1, updated 2, unchanged 1, skipped 0"
    assert (job["commitOf"], job["undoOf"], job["undoneBy"]) == (None, None, None)
    assert products(services)[2] == ("C", "Cherries", Decimal("3"), 30)


def test_a_dry_run_writes_nothing_then_its_commit_imports_once(client, services, stored, tmp_path):
    before = checksum(services)
    dry = imported(client, write_csv(tmp_path / "week.csv", CHANGED), mode="upsert", dryRun="true")
    result = dry["result"]
    assert checksum(services) == before
    assert (result["dryRun"], result["wouldCreate"], result["wouldUpdate"]) == (True, 1, 2)
    assert result["unchangedCount"] == 1 and result["importedCount"] == 0
    assert {"key": "C", "field": "name", "from": "Cherry", "to": "Cherries"} in result["changes"]
    assert dry["message"] == "Dry run: would create 1, update 2; 1 unchanged, 0 skipped"

    commit = client.post(f"{JOBS}/{dry['jobId']}/commit")
    assert commit.status_code == 201, commit.text
    assert commit.json()["commitOf"] == dry["jobId"]
    done = wait_for_end(client, commit.json()["jobId"])
    assert done["status"] == "COMPLETED", done
    assert (done["result"]["createdCount"], done["result"]["updatedCount"]) == (1, 2)
    assert products(services)[3] == ("D", "Date", Decimal("2"), 5)

    again = client.post(f"{JOBS}/{dry['jobId']}/commit")
    assert again.status_code == 409 and "committed already" in again.json()["error"]


def test_undo_restores_the_table_and_refuses_a_second_time(client, services, stored, tmp_path):
    before = checksum(services)
    job = imported(client, write_csv(tmp_path / "week.csv", CHANGED), mode="upsert")
    undo = client.post(f"{JOBS}/{job['jobId']}/undo")
    assert undo.status_code == 201, undo.text
    assert undo.json()["undoOf"] == job["jobId"]
    done = wait_for_end(client, undo.json()["jobId"])
    assert done["status"] == "COMPLETED", done
    assert (done["result"]["deletedCount"], done["result"]["restoredCount"]) == (1, 2)
    assert checksum(services) == before
    assert client.get(f"{JOBS}/{job['jobId']}").json()["undoneBy"] == done["jobId"]
    again = client.post(f"{JOBS}/{job['jobId']}/undo")
    assert again.status_code == 409 and "undone already" in again.json()["error"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "merge"}, "Unknown mode 'merge': use one of insert, upsert, update."),
        ({"dryRun": "yes"}, "The field dryRun must be true or false."),
        (
            {"mode": "update", "mapping": '{"name": "name"}'},
            "Choose a column for the required field sku",
        ),
    ],
)
def test_bad_mode_fields_get_a_422_and_no_job(client, services, tmp_path, fields, message):
    response = send(client, write_csv(tmp_path / "p.csv", STORED), **fields)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(message)
    assert client.get(JOBS).json()["jobs"] == []


def test_commit_and_undo_refuse_what_they_cannot_do(client, services, stored, tmp_path):
    plain = stored["jobId"]
    assert client.post(f"{JOBS}/{plain}/commit").status_code == 409  # not a dry run
    dry = imported(client, write_csv(tmp_path / "d.csv", CHANGED), dryRun="true")
    refused = client.post(f"{JOBS}/{dry['jobId']}/undo")
    assert refused.status_code == 409 and "dry run wrote nothing" in refused.json()["error"]
    nothing = imported(client, write_csv(tmp_path / "same.csv", STORED))  # every row skipped
    refused = client.post(f"{JOBS}/{nothing['jobId']}/undo")
    assert refused.status_code == 409 and "changed no rows" in refused.json()["error"]
    assert client.post(f"{JOBS}/not-a-job/undo").status_code == 400
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"{JOBS}/{missing}/commit").status_code == 404
    assert client.post(f"{JOBS}/{missing}/undo").status_code == 404


def test_after_the_files_retention_undo_and_commit_answer_410(client, services, stored, tmp_path):
    job = imported(client, write_csv(tmp_path / "week.csv", CHANGED), mode="upsert")
    dry = imported(client, write_csv(tmp_path / "d.csv", CHANGED), mode="upsert", dryRun="true")
    later = utc_now() + timedelta(days=services.settings.keep_files_days + 1)
    swept = sweep_old_files(services.store, services.files, keep_for=timedelta(days=1), now=later)
    assert swept >= 3
    gone = client.post(f"{JOBS}/{job['jobId']}/undo")
    assert gone.status_code == 410
    assert gone.json()["error"].startswith("This import can no longer be undone")
    gone = client.post(f"{JOBS}/{dry['jobId']}/commit")
    assert gone.status_code == 410 and "no longer stored" in gone.json()["error"]


def test_undo_refuses_an_undo_a_running_import_and_one_under_way(client, services, stored):
    imported_id = uuid.UUID(stored["jobId"])
    undo = client.post(f"{JOBS}/{imported_id}/undo")
    assert undo.status_code == 201
    racing = client.post(f"{JOBS}/{imported_id}/undo")  # the first may still be running
    assert racing.status_code == 409
    assert racing.json()["error"].startswith(("This import is being undone", "This import has"))
    done = wait_for_end(client, undo.json()["jobId"])
    again = client.post(f"{JOBS}/{done['jobId']}/undo")
    assert again.status_code == 409 and "An undo cannot be undone" in again.json()["error"]
    running = services.store.create(
        kind=JobKind.IMPORT, dataset="products", owner=OWNER, params={"fileName": "x.csv"}
    )
    services.store.start(running.id)
    refused = client.post(f"{JOBS}/{running.id}/undo")
    assert refused.status_code == 409 and "this one is PROCESSING" in refused.json()["error"]
    refused = client.post(f"{JOBS}/{running.id}/commit")
    assert refused.status_code == 409 and "not one" in refused.json()["error"]


def test_commit_of_a_dry_run_still_running_is_refused(client, services):
    running = services.store.create(
        kind=JobKind.IMPORT, dataset="products", owner=OWNER, params={"dryRun": True}
    )
    services.store.start(running.id)
    refused = client.post(f"{JOBS}/{running.id}/commit")
    assert refused.status_code == 409 and "has not completed" in refused.json()["error"]
    assert services.store.get(running.id).status.value == "PROCESSING"  # type: ignore[union-attr]


def test_an_import_without_a_record_of_its_changes_says_why_it_cannot_be_undone(client, services):
    old = services.store.create(
        kind=JobKind.IMPORT, dataset="products", owner=OWNER, params={"fileName": "old.csv"}
    )
    services.store.start(old.id)
    services.store.complete(old.id, result={"importedCount": 3, "skippedCount": 0}, message="")
    refused = client.post(f"{JOBS}/{old.id}/undo")
    assert refused.status_code == 410
    assert "before imports kept a record" in refused.json()["error"]


def test_a_dry_run_shows_stored_values_only_to_one_who_may_export(client, stored, tmp_path):
    from jobs_ui.access import hooks

    hooks.set_authorize(lambda _principal, action, _dataset: action is hooks.Action.IMPORT)
    try:
        dry = imported(client, write_csv(tmp_path / "d.csv", CHANGED), mode="upsert", dryRun="true")
    finally:
        hooks.set_authorize(None)
    changes = dry["result"]["changes"]
    assert changes and all(change["from"] is None for change in changes)
    assert {"key": "C", "field": "name", "from": None, "to": "Cherries"} in changes


def test_a_cancelled_commit_is_retried_once_only(client, services, tmp_path, stored):
    dry = imported(client, write_csv(tmp_path / "d.csv", CHANGED), mode="upsert", dryRun="true")
    lost = services.store.create(  # a commit whose worker was lost before it started
        kind=JobKind.IMPORT,
        dataset="products",
        owner=OWNER,
        params={**services.store.get(uuid.UUID(dry["jobId"])).params, "dryRun": False},  # type: ignore[union-attr]
        commit_of=uuid.UUID(dry["jobId"]),
    )
    services.store.fail_unstarted(lost.id, error="stopped")
    commit = {"jobId": str(lost.id)}
    first = client.post(f"{JOBS}/{commit['jobId']}/retry")
    assert first.status_code == 201, first.text
    second = client.post(f"{JOBS}/{commit['jobId']}/retry")
    assert second.status_code == 409 and "committed already" in second.json()["error"]


def test_a_failed_undo_is_not_retried_once_the_record_is_gone(client, services, tmp_path, stored):
    job = imported(client, write_csv(tmp_path / "week.csv", CHANGED), mode="upsert")
    lost = services.store.create(
        kind=JobKind.IMPORT,
        dataset="products",
        owner=OWNER,
        params={},
        undo_of=uuid.UUID(job["jobId"]),
    )
    services.store.fail_unstarted(lost.id, error="stopped")
    undo = {"jobId": str(lost.id)}
    JobLineage(services.engine).forget_changes(uuid.UUID(job["jobId"]))
    retry = client.post(f"{JOBS}/{undo['jobId']}/retry")
    assert retry.status_code == 410
    assert client.get(f"{JOBS}/{job['jobId']}").json()["undoneBy"] is None


def test_a_json_lines_update_ignores_what_its_first_line_does_not_map(
    client, services, stored, tmp_path
):
    path = tmp_path / "prices.jsonl"
    path.write_text(
        '{"sku": "A", "price": "1.60"}\n{"sku": "B", "price": "0.40", "name": {"x": 1}}\n'
    )
    done = imported(client, path, mode="update")
    assert (done["result"]["updatedCount"], done["result"]["skippedCount"]) == (2, 0)
    assert products(services)[1] == ("B", "Banana", Decimal("0.4"), 20)  # name left as stored


def test_an_undo_has_no_file_to_map_again(client, services, stored):
    undo = wait_for_end(client, client.post(f"{JOBS}/{stored['jobId']}/undo").json()["jobId"])
    with pytest.raises(CommandError) as refused:
        services.commands.inspect_job(Principal(subject=OWNER), uuid.UUID(undo["jobId"]))
    assert refused.value.status == 404
