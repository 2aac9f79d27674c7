"""The rows an import skipped, fixed through the API: read a page, check, import."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs_ui.access.api_keys import create_key
from jobs_ui.models import JobKind
from jobs_ui.services import Services
from tests.api.test_import_modes import imported, products
from tests.conftest import OWNER
from tests.support.jobs import wait_for_end, write_csv

JOBS = "/api/import-export/jobs"
# Rows 3 and 5 have a bad price, row 6 a blank name, row 7 repeats row 2's key.
FILE = [
    "sku,name,price,stock",
    "A,Apple,1.50,10",
    "B,Banana,cheap,20",
    "C,Cherry,3.00,30",
    "D,Date,n/a,5",
    "E,,2.00,1",
    "A,Apple again,1.00,1",
]


@pytest.fixture
def first(client: httpx.Client, tmp_path: Path) -> dict[str, Any]:
    job = imported(client, write_csv(tmp_path / "week.csv", FILE))
    assert job["result"]["skippedCount"] == 4
    return job


def rejected(client: httpx.Client, job_id: str, **query: Any) -> httpx.Response:
    return client.get(f"{JOBS}/{job_id}/rejected", params=query)


def test_the_rejected_rows_in_file_order_with_their_values_and_errors(client, first):
    page = rejected(client, first["jobId"]).json()
    assert page["total"] == 4 and page["fields"] == ["sku", "name", "price", "stock"]
    assert [row["row"] for row in page["rows"]] == [3, 5, 6, 7]
    banana = page["rows"][0]
    assert banana["values"] == {"sku": "B", "name": "Banana", "price": "cheap", "stock": "20"}
    assert [error["field"] for error in banana["errors"]] == ["price"]
    blank = page["rows"][2]
    assert blank["values"]["name"] is None and blank["errors"][0]["message"] == "name is required"
    repeat = page["rows"][3]
    assert repeat["errors"][0]["message"] == "Duplicate sku: same as row 2 of this file"


def test_paging_and_the_filter_by_reason(client, first):
    second = rejected(client, first["jobId"], offset=1, limit=2).json()
    assert second["total"] == 4 and [row["row"] for row in second["rows"]] == [5, 6]
    reason = first["result"]["errorSummary"][0]["message"]  # the bad prices: two rows
    only = rejected(client, first["jobId"], reason=reason).json()
    assert only["total"] == 2 and [row["row"] for row in only["rows"]] == [3, 5]
    everything = rejected(client, first["jobId"], reason="").json()  # an empty filter: none
    assert everything["total"] == 4
    past = rejected(client, first["jobId"], offset=10).json()
    assert past["total"] == 4 and past["rows"] == []


@pytest.mark.parametrize(
    "query",
    [{"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "many"}, {"reason": "x" * 1001}],
)
def test_a_bad_page_query_is_a_clear_422(client, first, query):
    response = rejected(client, first["jobId"], **query)
    assert response.status_code == 422, response.text
    assert response.json()["error"]


def test_validate_says_which_rows_are_fixed_and_which_are_still_wrong(client, first):
    rows = [
        {"row": 3, "values": {"price": "0.25"}},  # fixed (the other fields kept)
        {"row": 5, "values": {"price": "-2"}},  # still wrong
        {"row": 6, "values": {"name": "Elderberry"}},  # fixed
        {"row": 7, "values": {"sku": "C"}},  # C went in with the first import
    ]
    answer = client.post(f"{JOBS}/{first['jobId']}/rejected/validate", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    errors = {row["row"]: row["errors"] for row in answer.json()["rows"]}
    assert errors[3] == [] and errors[6] == []
    assert [error["field"] for error in errors[5]] == ["price"]
    assert errors[7] == [{"field": "sku", "message": "sku 'C' already exists in products"}]


def test_two_fixed_rows_with_one_key_the_second_is_a_repeat(client, first):
    rows = [{"row": 3, "values": {"price": "1", "sku": "Z"}}, {"row": 6, "values": {"sku": "Z"}}]
    rows[1]["values"]["name"] = "Zed"
    answer = client.post(f"{JOBS}/{first['jobId']}/rejected/validate", json={"rows": rows})
    errors = {row["row"]: row["errors"] for row in answer.json()["rows"]}
    assert errors[3] == []
    assert errors[6][0]["message"] == "Duplicate sku: same as row 3 of this file"


def test_import_fixed_rows_makes_a_new_job_of_those_rows_alone(client, services, first):
    rows = [
        {"row": 3, "values": {"price": "0.25"}},
        {"row": 5, "values": {"price": "-2"}},  # still wrong: skipped with its reason
        {"row": 6, "values": {"name": "Elderberry"}},
    ]
    response = client.post(f"{JOBS}/{first['jobId']}/rejected/import", json={"rows": rows})
    assert response.status_code == 201, response.text
    fix = wait_for_end(client, response.json()["jobId"])
    assert fix["status"] == "COMPLETED" and fix["fixOf"] == first["jobId"]
    result = fix["result"]
    assert (result["createdCount"], result["skippedCount"]) == (2, 1)
    assert [row[0] for row in products(services)] == ["A", "B", "C", "E"]
    assert client.get(f"{JOBS}/{first['jobId']}").json()["fixOf"] is None
    # Its own skipped row can be fixed in turn.
    again = rejected(client, fix["jobId"]).json()
    assert again["total"] == 1 and again["rows"][0]["values"]["sku"] == "D"


def test_a_fixed_row_whose_key_another_row_took_meanwhile(client, first, tmp_path):
    imported(client, write_csv(tmp_path / "b.csv", ["sku,name,price,stock", "B,Bought,1,1"]))
    rows = [{"row": 3, "values": {"price": "0.25"}}]
    answer = client.post(f"{JOBS}/{first['jobId']}/rejected/validate", json={"rows": rows})
    assert answer.json()["rows"][0]["errors"][0]["message"] == "sku 'B' already exists in products"
    response = client.post(f"{JOBS}/{first['jobId']}/rejected/import", json={"rows": rows})
    fix = wait_for_end(client, response.json()["jobId"])
    assert (fix["result"]["createdCount"], fix["result"]["skippedCount"]) == (0, 1)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"rows": [{"row": 4, "values": {"price": "1"}}]}, "Row 4 is not one this import skipped"),
        ({"rows": [{"row": 3, "values": {"colour": "red"}}]}, "does not take: 'colour'"),
        ({"rows": [{"row": 3, "values": {}}, {"row": 3, "values": {}}]}, "sent once"),
        ({"rows": []}, "rows"),
        ({"rows": [{"row": 0, "values": {}}]}, "row"),
        ({"rows": [{"row": 2**63, "values": {}}]}, "is not one this import skipped"),
        ({"rows": [{"row": 3, "values": {"name": "x" * 40_000}}]}, "name"),
        ({"rows": "all"}, "rows"),
    ],
)
def test_bad_rows_are_a_clear_422_on_both_routes(client, first, body, says):
    for route in ("validate", "import"):
        response = client.post(f"{JOBS}/{first['jobId']}/rejected/{route}", json=body)
        assert response.status_code == 422, response.text
        assert says in response.text


def test_validate_takes_at_most_500_rows(client, first):
    rows = [{"row": 3, "values": {}}] * 501
    response = client.post(f"{JOBS}/{first['jobId']}/rejected/validate", json={"rows": rows})
    assert response.status_code == 422 and "500" in response.json()["error"]


def test_another_principal_gets_nothing(client, services: Services, server, first):
    other = create_key(services.engine, owner="someone-else", scopes=[])[1]
    headers = {"Authorization": f"Bearer {other}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as stranger:
        job = first["jobId"]
        rows = {"rows": [{"row": 3, "values": {"price": "1"}}]}
        answers = [
            stranger.get(f"{JOBS}/{job}/rejected"),
            stranger.post(f"{JOBS}/{job}/rejected/validate", json=rows),
            stranger.post(f"{JOBS}/{job}/rejected/import", json=rows),
        ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert all("banana" not in answer.text.lower() for answer in answers)


def test_an_import_that_skipped_nothing_or_is_not_done(client, tmp_path, services):
    clean = imported(client, write_csv(tmp_path / "ok.csv", FILE[:2]))
    answer = rejected(client, clean["jobId"])
    assert answer.status_code == 404 and "skipped no rows" in answer.json()["error"]
    pending = services.store.create(kind=JobKind.IMPORT, dataset="products", owner=OWNER, params={})
    answer = rejected(client, str(pending.id))
    assert answer.status_code == 409 and "not completed" in answer.json()["error"]


def test_once_the_files_are_swept_the_rows_are_gone_410(client, services, first):
    services.files.rejected_rows_path(uuid.UUID(first["jobId"])).unlink()
    answer = rejected(client, first["jobId"])
    assert answer.status_code == 410 and "not kept" in answer.json()["error"]


def test_a_dry_runs_rows_checked_against_the_rows_it_kept(client, tmp_path):
    dry = imported(client, write_csv(tmp_path / "week.csv", FILE), dryRun="true")
    rows = [{"row": 3, "values": {"sku": "C", "price": "1"}}]  # C is a valid row of the file
    answer = client.post(f"{JOBS}/{dry['jobId']}/rejected/validate", json={"rows": rows})
    message = answer.json()["rows"][0]["errors"][0]["message"]
    assert message == "Duplicate sku: same as row 4 of this file"


def test_a_dry_runs_fixed_row_with_a_key_it_kept_is_refused_on_import(client, tmp_path, services):
    dry = imported(client, write_csv(tmp_path / "week.csv", FILE), dryRun="true")
    rows = [{"row": 3, "values": {"sku": "C", "price": "1"}}]  # the commit imports C
    answer = client.post(f"{JOBS}/{dry['jobId']}/rejected/import", json={"rows": rows})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == (
        "Row 3 has the sku of row 4, which this dry run's commit will import: change its sku "
        "and import the rows again."
    )
    assert products(services) == []  # nothing went in before the commit
    fine = [{"row": 3, "values": {"sku": "B", "price": "1"}}]
    answer = client.post(f"{JOBS}/{dry['jobId']}/rejected/import", json={"rows": fine})
    assert answer.status_code == 201, answer.text


def test_a_damaged_store_is_a_410_not_a_500(client, services, first):
    services.files.rejected_rows_path(uuid.UUID(first["jobId"])).write_bytes(b"not sqlite" * 100)
    answer = rejected(client, first["jobId"])
    assert answer.status_code == 410 and "cannot be read" in answer.json()["error"]


def test_a_failed_import_has_no_rows_to_fix_and_says_retry(client, services):
    job = services.store.create(kind=JobKind.IMPORT, dataset="products", owner=OWNER, params={})
    services.store.fail_unstarted(job.id, error="The queue was down.")
    answer = rejected(client, str(job.id))
    assert answer.status_code == 409 and "Retry it instead" in answer.json()["error"]
