"""Exports through the HTTP API: files, names, filters, formula safety, round trips."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, delete, select

from jobs_ui.datasets.shipped import Contact
from jobs_ui.models import JobKind
from tests.support.files import contacts_csv, write_contacts
from tests.support.jobs import start_export, start_import, wait_for_end


def seed_contacts(client, tmp_path) -> None:
    job = wait_for_end(client, start_import(client, write_contacts(tmp_path / "seed.csv"))["jobId"])
    assert job["result"]["importedCount"] == 3


def all_contacts(services) -> list[tuple]:
    with Session(services.engine) as session:
        contacts = session.exec(select(Contact)).all()
        return sorted((c.name, c.email, c.company, c.phone) for c in contacts)


def download(client, job: dict) -> bytes:
    response = client.get(job["result"]["fileUrl"])
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert job["result"]["fileName"] in disposition
    return response.content


def test_csv_export_has_every_row_and_a_meaningful_name(client, tmp_path):
    seed_contacts(client, tmp_path)
    job = wait_for_end(client, start_export(client)["jobId"])
    assert job["status"] == "COMPLETED"
    result = job["result"]
    assert re.fullmatch(r"contacts-\d{4}-\d{2}-\d{2}-\d{6}\.csv", result["fileName"])
    content = download(client, job)
    assert result["sizeBytes"] == len(content) and result["rowCount"] == 3
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [row["email"] for row in rows] == [
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
    ]


def test_formula_cells_are_neutralised_in_csv_and_xlsx(client, tmp_path):
    seed_contacts(client, tmp_path)
    csv_job = wait_for_end(client, start_export(client, search="alan")["jobId"])
    row = next(csv.DictReader(io.StringIO(download(client, csv_job).decode())))
    assert row["company"] == '\'=HYPERLINK("x")' and row["phone"] == "'-1"

    xlsx_job = wait_for_end(client, start_export(client, fmt="xlsx", search="alan")["jobId"])
    path = tmp_path / "out.xlsx"
    path.write_bytes(download(client, xlsx_job))
    sheet = load_workbook(path, read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][2] == '\'=HYPERLINK("x")'


def test_filter_is_a_case_insensitive_substring_search(client, tmp_path):
    seed_contacts(client, tmp_path)
    job = wait_for_end(client, start_export(client, fmt="jsonl", search="NAVY")["jobId"])
    lines = download(client, job).decode().splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["grace@example.com"]
    job = wait_for_end(client, start_export(client, search="100%_")["jobId"])
    assert job["result"]["rowCount"] == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_export_then_import_gives_the_same_rows(client, services, tmp_path, fmt):
    seed_contacts(client, tmp_path)
    contacts_csv(tmp_path / "more.csv", 200)
    wait_for_end(client, start_import(client, tmp_path / "more.csv")["jobId"])
    before = all_contacts(services)
    export = wait_for_end(client, start_export(client, fmt=fmt)["jobId"])
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(download(client, export))
    with Session(services.engine) as session:
        session.exec(delete(Contact))
        session.commit()
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["result"]["importedCount"] == len(before) == 203, job
    assert all_contacts(services) == before


def test_export_requests_are_checked(client):
    post = client.post
    url = "/api/import-export/jobs/export"
    response = post(url, json={"dataset": "contacts", "format": "pdf"})
    assert response.status_code == 422 and "format" in response.json()["error"]
    response = post(url, json={"dataset": "planets"})
    assert response.status_code == 422 and "Unknown dataset" in response.json()["error"]
    response = post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = post(url, json={})
    assert response.status_code == 422 and "dataset" in response.json()["error"]


def test_download_of_an_unfinished_or_unknown_export(client, services):
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    assert client.get(f"/api/import-export/jobs/{job.id}/download").status_code == 409
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/import-export/jobs/{unknown}/download").status_code == 404
    assert client.get("/api/import-export/jobs/nope/download").status_code == 400


def test_prices_keep_their_two_decimals_in_every_format(client, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("sku,name,price,stock\nA-1,Widget,12.5,3\nB-2,Gadget,0.1,0\n")
    imported = wait_for_end(client, start_import(client, path, dataset="products")["jobId"])
    assert imported["result"]["importedCount"] == 2, imported

    csv_job = wait_for_end(client, start_export(client, dataset="products")["jobId"])
    rows = list(csv.DictReader(io.StringIO(download(client, csv_job).decode())))
    assert [(row["sku"], row["price"], row["stock"]) for row in rows] == [
        ("A-1", "12.50", "3"),
        ("B-2", "0.10", "0"),
    ]
    jsonl_job = wait_for_end(client, start_export(client, dataset="products", fmt="jsonl")["jobId"])
    lines = [json.loads(line) for line in download(client, jsonl_job).decode().splitlines()]
    assert [(line["price"], line["stock"]) for line in lines] == [(12.5, 3), (0.1, 0)]


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)  # patched in this process
def test_an_xlsx_export_over_a_sheets_rows_fails_at_once_with_a_sentence(
    client, tmp_path, monkeypatch
):
    from jobs_ui.engines import export_job, xlsx_writer

    seed_contacts(client, tmp_path)
    monkeypatch.setattr(export_job, "MAX_DATA_ROWS", 2)
    monkeypatch.setattr(xlsx_writer, "MAX_DATA_ROWS", 2)
    job = wait_for_end(client, start_export(client, fmt="xlsx")["jobId"])
    assert job["status"] == "FAILED"
    assert job["error"] == (
        "An Excel sheet holds at most 2 rows besides its header, and this export has 3. "
        "Export it as CSV or JSON Lines, or filter it to fewer rows."
    )
    assert wait_for_end(client, start_export(client, fmt="csv")["jobId"])["status"] == "COMPLETED"
