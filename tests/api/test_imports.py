"""Imports end to end through the HTTP API: counts, errors, atomicity, bad uploads."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlmodel import Session, select

from jobs_ui.datasets.shipped import Contact, Product
from tests.support.files import EXPECTED_GOOD, contacts_csv, write_contacts
from tests.support.jobs import start_import, upload, wait_for_end, write_csv


def contact_emails(services) -> set[str]:
    with Session(services.engine) as session:
        return set(session.exec(select(Contact.email)).all())


@pytest.mark.parametrize("name", ["mixed.csv", "mixed.tsv", "mixed.jsonl", "mixed.xlsx"])
def test_mixed_file_counts_in_each_format(client, services, tmp_path, name):
    path = write_contacts(tmp_path / name)
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "COMPLETED", job
    result = job["result"]
    assert (result["importedCount"], result["skippedCount"], result["totalRows"]) == (3, 3, 6)
    first_data_row = 1 if name.endswith(".jsonl") else 2  # header rows count, JSON lines do not
    assert [error["row"] for error in result["errors"]] == [first_data_row + n for n in (2, 3, 4)]
    messages = [error["message"] for error in result["errors"]]
    assert messages[0] == "email is required"
    assert messages[1] == "email: not a valid email address"
    assert messages[2].startswith("Duplicate email: same as row")
    assert contact_emails(services) == EXPECTED_GOOD
    assert job["progress"] == 100


def test_error_report_lists_every_skipped_row_with_reason(client, tmp_path):
    job = wait_for_end(client, start_import(client, write_contacts(tmp_path / "m.csv"))["jobId"])
    report = client.get(job["result"]["errorReportUrl"])
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert 'filename="m-errors.csv"' in report.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [row["row"] for row in rows] == ["4", "5", "6"]
    assert rows[1]["email"] == "not-an-email" and rows[1]["reason"]
    assert list(rows[0]) == ["row", "name", "email", "company", "phone", "reason"]


def test_existing_keys_are_skipped_not_duplicated(client, services, tmp_path):
    wait_for_end(client, start_import(client, contacts_csv(tmp_path / "a.csv", 5))["jobId"])
    job = wait_for_end(client, start_import(client, contacts_csv(tmp_path / "b.csv", 8))["jobId"])
    result = job["result"]
    assert (result["importedCount"], result["skippedCount"]) == (3, 5)
    assert "already exists in contacts" in result["errors"][0]["message"]
    assert len(contact_emails(services)) == 8


def test_clean_import_has_no_error_report(client, tmp_path):
    job = wait_for_end(client, start_import(client, contacts_csv(tmp_path / "ok.csv", 10))["jobId"])
    assert job["result"]["errorReportUrl"] is None and job["result"]["errors"] == []
    assert job["message"] == "Created 10 rows"


def test_products_validate_price_and_stock(client, services, tmp_path):
    path = write_csv(
        tmp_path / "p.csv",
        [
            "sku;name;price;stock",
            "A-1;Widget;19.99;5",
            "A-2;Gadget;-1;5",
            "A-3;Gizmo;2.5;1.5",
            "A-4;Thing;1.999;0",
            "A-5;Free;0;0",
        ],
    )
    job = wait_for_end(client, start_import(client, path, dataset="products")["jobId"])
    assert job["result"]["importedCount"] == 2
    with Session(services.engine) as session:
        prices = {p.sku: p.price for p in session.exec(select(Product)).all()}
    assert {sku: str(price) for sku, price in prices.items()} == {"A-1": "19.99", "A-5": "0.00"}


def test_latin1_file_is_read_with_its_accents(client, services, tmp_path):
    path = write_csv(
        tmp_path / "l.csv",
        ["name,email", "José Müller,jose@example.com", "Zoë Ørsted,zoe@example.com"],
        encoding="cp1252",
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["result"]["importedCount"] == 2
    with Session(services.engine) as session:
        names = set(session.exec(select(Contact.name)).all())
    assert names == {"José Müller", "Zoë Ørsted"}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"name,email\n", "header but no data rows"),
        (b"\x00\x01\x02\xff\xfe\x00binary\x00junk" * 50, "not a text file"),
    ],
    ids=["header-only", "binary-junk"],
)
def test_unusable_files_end_failed_with_a_clear_error(
    client, services, tmp_path, content, fragment
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "FAILED"
    assert fragment in job["error"]
    assert contact_emails(services) == set()
    assert client.get("/api/import-export/jobs").status_code == 200  # still serving


def test_columns_that_match_no_required_field_are_refused_before_any_job(client, tmp_path):
    """Nothing to import, and nothing a job could do about it: a 422 naming what is missing
    (tests/api/test_mapping.py covers mapping them)."""
    path = write_csv(tmp_path / "books.csv", ["title,author", "Dune,Herbert"])
    response = upload(client, path)
    assert response.status_code == 422
    assert "no column for name, email" in response.json()["error"]
    assert client.get("/api/import-export/jobs").json()["jobs"] == []


def test_ragged_rows_are_skipped_with_the_reason(client, tmp_path):
    path = write_csv(
        tmp_path / "r.csv",
        ["name,email,company", "A,a@example.com,X", "B,b@example.com", "C,c@example.com,Y,extra"],
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["result"]["importedCount"] == 1
    assert [e["row"] for e in job["result"]["errors"]] == [3, 4]
    assert "fields" in job["result"]["errors"][0]["message"]


def test_wrong_encoding_mid_file_fails_without_importing(client, services, tmp_path):
    good = "".join(f"P{i},p{i}@example.com\n" for i in range(5000)).encode()
    path = tmp_path / "mixed-encoding.csv"
    path.write_bytes(
        b"name,email\n" + good + "Bad \xff\xfe name,bad@example.com\n".encode("latin-1")
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "FAILED"
    assert "not valid" in job["error"]
    assert contact_emails(services) == set()


@pytest.mark.parametrize(
    ("name", "content", "status", "fragment"),
    [
        ("empty.csv", b"", 400, "empty"),
        ("data.pdf", b"%PDF-1.4", 415, "Unsupported file type"),
    ],
)
def test_bad_uploads_get_a_clear_http_error(client, tmp_path, name, content, status, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    response = upload(client, path)
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_upload_over_the_limit_is_refused_and_nothing_is_kept(client, services, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"name,email\n" + b"x" * (9 * 1024 * 1024))
    response = upload(client, path)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert not any((services.settings.data_dir / "uploads").iterdir())
    assert client.get("/api/import-export/jobs").json()["jobs"] == []


def test_a_chunked_upload_over_the_limit_is_refused(client):
    def body():  # a multipart body with no declared length, 64 MB against an 8 MB limit
        yield b'--b\r\nContent-Disposition: form-data; name="dataset"\r\n\r\ncontacts\r\n'
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        for _ in range(64):
            yield b"x" * (1024 * 1024)
        yield b"\r\n--b--\r\n"

    response = client.post(
        "/api/import-export/jobs/import",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json() == {"error": "The file is larger than the 8 MB limit.", "status": 413}
    assert client.get("/api/import-export/jobs").json()["jobs"] == []


def test_unknown_dataset_and_missing_fields(client, tmp_path):
    path = contacts_csv(tmp_path / "c.csv", 1)
    response = upload(client, path, dataset="planets")
    assert response.status_code == 422
    assert "Unknown dataset 'planets'" in response.json()["error"]
    assert (
        client.post("/api/import-export/jobs/import", data={"dataset": "contacts"}).status_code
        == 415
    )
    with path.open("rb") as handle:
        response = client.post("/api/import-export/jobs/import", files={"file": ("c.csv", handle)})
    assert response.status_code == 400 and "dataset" in response.json()["error"]


def test_cancel_mid_import_leaves_the_table_unchanged(client, services, tmp_path):
    wait_for_end(client, start_import(client, contacts_csv(tmp_path / "seed.csv", 3))["jobId"])
    before = contact_emails(services)
    # Still reading when the first progress shows: every other row fails validation, and
    # explaining a failed row takes far longer than accepting a good one.
    big = write_csv(
        tmp_path / "big.csv",
        ["name,email,company,phone"]
        + [f"P{n},{f'p{n}@x.io' if n % 2 else 'not-an-email'},," for n in range(140_000)],
    )
    job = start_import(client, big)
    deadline = time.monotonic() + 20
    while client.get(f"/api/import-export/jobs/{job['jobId']}").json()["progress"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    response = client.post(f"/api/import-export/jobs/{job['jobId']}/cancel")
    assert response.status_code == 200
    ended = wait_for_end(client, job["jobId"])
    assert ended["status"] == "CANCELLED"
    assert contact_emails(services) == before


def test_retry_runs_a_failed_import_again_as_a_new_job(client, tmp_path):
    path = write_csv(tmp_path / "h.csv", ["name,email"])
    failed = wait_for_end(client, start_import(client, path)["jobId"])
    response = client.post(f"/api/import-export/jobs/{failed['jobId']}/retry")
    assert response.status_code == 201
    retry = response.json()
    assert retry["jobId"] != failed["jobId"] and retry["retryOf"] == failed["jobId"]
    assert wait_for_end(client, retry["jobId"])["status"] == "FAILED"
    completed = wait_for_end(
        client, start_import(client, contacts_csv(tmp_path / "ok.csv", 1))["jobId"]
    )
    assert client.post(f"/api/import-export/jobs/{completed['jobId']}/retry").status_code == 409


def test_jsonl_lines_may_each_name_their_own_keys(client, services, tmp_path):
    path = tmp_path / "varied.jsonl"
    path.write_text(
        '{"name": "Ada", "email": "ada@example.com"}\n'
        '{"name": "Bob", "email": "bob@example.com", "Company": "Acme", "phone": 5551234}\n'
        '{"name": "No Email"}\n'
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert (job["result"]["importedCount"], job["result"]["skippedCount"]) == (2, 1)
    assert job["result"]["errors"] == [
        {
            "row": 3,
            "field": "email",
            "column": "email",
            "value": None,
            "message": "email is required",
        }
    ]
    with Session(services.engine) as session:
        bob = session.exec(select(Contact).where(Contact.email == "bob@example.com")).one()
    assert (bob.company, bob.phone) == ("Acme", "5551234")


def test_a_damaged_workbook_is_the_files_fault_not_ours(client, tmp_path):
    import zipfile

    path = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "FAILED"
    assert "not a valid Excel" in job["error"]


def test_a_quote_that_is_never_closed_fails_the_file_instead_of_merging_rows(client, tmp_path):
    path = write_csv(
        tmp_path / "q.csv", ["name,email", '"Ada,ada@example.com', "Bob,bob@example.com"]
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "FAILED"
    assert "never closed" in job["error"] and "row 2" in job["error"]


@pytest.mark.parametrize("table_had_rows", [False, True])
def test_a_key_repeated_across_save_parts_is_reported(
    client, services, tmp_path, monkeypatch, table_had_rows
):
    import jobs_ui.engines.import_save as import_save

    monkeypatch.setattr(import_save, "INSERT_PART_ROWS", 2)  # rows 2-3, then 4-5 (in process)
    if table_had_rows:
        seed = write_csv(tmp_path / "seed.csv", ["name,email", "Zed,zed@x.io"])
        wait_for_end(client, start_import(client, seed)["jobId"])
    lines = ["name,email", "A,a@x.io", "B,b@x.io", "C,c@x.io", "A again,A@x.io"]
    job = wait_for_end(client, start_import(client, write_csv(tmp_path / "r.csv", lines))["jobId"])
    result = job["result"]
    assert (result["importedCount"], result["skippedCount"]) == (3, 1), job
    assert result["errors"] == [
        {
            "row": 5,
            "field": "email",
            "column": "email",
            "value": "a@x.io",
            "message": "Duplicate email: same as row 2 of this file",
        }
    ]
    names = {email: name for name, email in all_contacts(services)}
    assert names["a@x.io"] == "A"  # the first row with the key is the one kept


def all_contacts(services) -> list[tuple[str, str]]:
    with Session(services.engine) as session:
        return [(c.name, c.email) for c in session.exec(select(Contact)).all()]


def test_retry_after_the_upload_is_gone_says_so_and_creates_nothing(client, services, tmp_path):
    path = write_csv(tmp_path / "h.csv", ["name,email"])
    failed = wait_for_end(client, start_import(client, path)["jobId"])
    upload_dir = services.settings.data_dir / "uploads" / failed["jobId"]
    for item in upload_dir.iterdir():
        item.unlink()
    response = client.post(f"/api/import-export/jobs/{failed['jobId']}/retry")
    assert response.status_code == 410
    assert response.json()["error"].startswith("The uploaded file of this job is no longer stored")
    assert [job["jobId"] for job in client.get("/api/import-export/jobs").json()["jobs"]] == [
        failed["jobId"]
    ]
    assert sorted(p.name for p in (services.settings.data_dir / "uploads").iterdir()) == [
        failed["jobId"]
    ]


def test_a_nul_character_skips_its_row_on_every_database(client, tmp_path):
    """PostgreSQL cannot store a NUL in text; SQLite could. Both skip the row, with why."""
    path = tmp_path / "nul.csv"
    path.write_bytes(
        b"name,email,company\n"
        + b"".join(b"Person %d,p%d@example.com,Co\n" % (n, n) for n in range(40))
        + b"Nul Row,nul@example.com,Bad\x00Company\n"
    )
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "COMPLETED", job
    assert (job["result"]["importedCount"], job["result"]["skippedCount"]) == (40, 1)
    assert job["result"]["errors"] == [
        {
            "row": 42,
            "field": None,
            "column": None,
            "value": None,
            "message": "company: contains a NUL character, which cannot be stored",
        }
    ]
