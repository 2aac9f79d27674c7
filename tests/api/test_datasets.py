"""What each dataset expects: the listing of fields, and templates that import as they are."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from jobs_ui.access import hooks
from jobs_ui.access.principal import Principal, Via
from jobs_ui.access.visitor import COOKIE_NAME
from jobs_ui.datasets.shipped import Contact, Product
from jobs_ui.jobs.commands import CommandError
from tests.support.jobs import start_export, start_import, wait_for_end

DATASETS = "/api/import-export/datasets"
SIGN_IN = {"error": "Sign in, or send an API key as Authorization: Bearer <key>.", "status": 401}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CONTACTS = {
    "name": "contacts",
    "label": "Contacts",
    "key": "email",
    "fields": [
        {
            "name": "name",
            "type": "text",
            "required": True,
            "description": "the contact's name",
            "aliases": ["full name", "contact name", "contact", "person", "customer name"],
            "example": "Grace Hopper",
        },
        {
            "name": "email",
            "type": "text",
            "required": True,
            "description": "email address",
            "aliases": ["e-mail address", "email address", "mail", "e-mail", "email id"],
            "example": "grace@example.com",
        },
        {
            "name": "company",
            "type": "text",
            "required": False,
            "description": "the organisation the contact works for",
            "aliases": ["organisation", "organization", "company name", "employer", "account"],
            "example": "Remington Rand",
        },
        {
            "name": "phone",
            "type": "text",
            "required": False,
            "description": "phone number, as written",
            "aliases": ["phone number", "tel", "telephone", "mobile", "cell", "phone no"],
            "example": "+44 20 7946 0000",
        },
    ],
}
PRODUCT_FIELDS = [
    ("sku", "text", True, "BOLT-M8-40"),
    ("name", "text", True, "Hex bolt M8 x 40"),
    ("price", "decimal", True, "0.35"),
    ("stock", "integer", True, 1200),
]


def template(client: httpx.Client, dataset: str, file_format: str | None = None) -> httpx.Response:
    params = {"format": file_format} if file_format else {}
    return client.get(f"{DATASETS}/{dataset}/template", params=params)


@pytest.fixture
def no_products() -> Iterator[None]:
    """A deployment whose callers may use contacts only."""
    hooks.set_authorize(lambda _principal, _action, dataset: dataset.name != "products")
    try:
        yield
    finally:
        hooks.set_authorize(None)


def test_the_listing_gives_each_dataset_with_its_fields_and_key(client):
    response = client.get(DATASETS)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    datasets = response.json()["datasets"]
    assert [dataset["name"] for dataset in datasets] == ["contacts", "products"]
    assert datasets[0] == CONTACTS
    products = datasets[1]
    assert (products["label"], products["key"]) == ("Products", "sku")
    assert [
        (field["name"], field["type"], field["required"], field["example"])
        for field in products["fields"]
    ] == PRODUCT_FIELDS
    assert all(field["description"] and field["aliases"] for field in products["fields"])
    assert client.get(f"{DATASETS}/").json() == response.json()


def test_a_visitor_sees_the_datasets_too(visitor):
    assert [d["name"] for d in visitor.get(DATASETS).json()["datasets"]] == [
        "contacts",
        "products",
    ]


def test_a_dataset_the_hook_refuses_is_neither_listed_nor_templated(client, no_products):
    assert [d["name"] for d in client.get(DATASETS).json()["datasets"]] == ["contacts"]
    refused = template(client, "products")
    assert refused.json() == {"error": "You may not import or export products.", "status": 403}
    assert template(client, "products", "xlsx").status_code == 403
    assert template(client, "contacts").status_code == 200


def test_import_or_export_alone_is_enough_to_be_listed(client):
    hooks.set_authorize(lambda _principal, action, dataset: action is hooks.Action.EXPORT)
    try:
        assert len(client.get(DATASETS).json()["datasets"]) == 2
        hooks.set_authorize(lambda _principal, _action, _dataset: False)
        assert client.get(DATASETS).json() == {"datasets": []}
    finally:
        hooks.set_authorize(None)


def test_a_job_access_token_may_not_list_datasets(client, server, services):
    token = start_export(client)["accessToken"]
    with httpx.Client(base_url=server.url, timeout=10) as stranger:
        for response in (
            stranger.get(DATASETS, params={"token": token}),
            stranger.get(f"{DATASETS}/contacts/template", params={"token": token}),
            stranger.get(DATASETS, headers={"Authorization": f"Bearer {token}"}),
        ):
            assert response.status_code == 401, response.text
            assert COOKIE_NAME not in response.cookies
        assert stranger.get(DATASETS, params={"token": token}).json() == SIGN_IN
    # The commands refuse a token's principal too (the pages call them in-process).
    reader = services.commands.tokens.principal(token)
    assert reader.read_only
    for call in (
        lambda: services.commands.visible_datasets(reader),
        lambda: services.commands.dataset_for(reader, "contacts"),
    ):
        with pytest.raises(CommandError) as refused:
            call()
        assert refused.value.status == 403


def test_an_unknown_dataset_is_404_and_a_bad_format_422(client):
    assert template(client, "nope").json() == {
        "error": "There is no dataset named 'nope'.",
        "status": 404,
    }
    bad = template(client, "contacts", "pdf")
    assert bad.status_code == 422
    assert bad.json()["status"] == 422 and "format" in bad.json()["error"]
    assert client.post(f"{DATASETS}/contacts/template").status_code == 405
    assert client.request("PUT", DATASETS).headers["allow"] == "GET"


def test_the_csv_template_byte_for_byte(client):
    response = template(client, "contacts")  # csv is the default
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts-template.csv"'
    assert response.content == (
        b"name,email,company,phone\r\n"
        b"Grace Hopper,grace@example.com,Remington Rand,'+44 20 7946 0000\r\n"
    )
    products = template(client, "products", "csv")
    assert products.content == b"sku,name,price,stock\r\nBOLT-M8-40,Hex bolt M8 x 40,0.35,1200\r\n"


def test_the_xlsx_template_cells(client):
    response = template(client, "products", "xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="products-template.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content))["data"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["sku", "name", "price", "stock"],
        ["BOLT-M8-40", "Hex bolt M8 x 40", "0.35", 1200],
    ]


def test_the_csv_template_filled_in_imports_with_no_mapping(client, services, tmp_path):
    text = template(client, "contacts").text
    path = tmp_path / "filled.csv"
    path.write_text(text + "Ada Lovelace,ada@example.com,,\r\n", encoding="utf-8")
    job = wait_for_end(client, start_import(client, path)["jobId"])
    assert job["status"] == "COMPLETED", job
    assert (job["result"]["importedCount"], job["result"]["skippedCount"]) == (2, 0)
    with Session(services.engine) as session:
        stored = {c.email: (c.company, c.phone) for c in session.exec(select(Contact)).all()}
    assert stored == {
        "grace@example.com": ("Remington Rand", "+44 20 7946 0000"),  # quote taken off
        "ada@example.com": (None, None),
    }
    header = next(csv.reader(io.StringIO(text)))
    assert header == [field["name"] for field in CONTACTS["fields"]]


def test_the_xlsx_template_filled_in_imports_too(client, services, tmp_path):
    sheet = load_workbook(io.BytesIO(template(client, "products", "xlsx").content))["data"]
    book = Workbook()
    filled = book.active
    assert filled is not None
    for row in [*sheet.iter_rows(values_only=True), ("NUT-M8", "Hex nut M8", 0.05, 5000)]:
        filled.append(list(row))
    path = tmp_path / "filled.xlsx"
    book.save(path)
    job = wait_for_end(client, start_import(client, path, dataset="products")["jobId"])
    assert job["status"] == "COMPLETED", job
    assert job["result"]["importedCount"] == 2
    with Session(services.engine) as session:
        stock = {p.sku: p.stock for p in session.exec(select(Product)).all()}
    assert stock == {"BOLT-M8-40": 1200, "NUT-M8": 5000}


def test_commands_decide_for_the_pages_as_for_the_api(services, no_products):
    someone = Principal(subject="someone", via=Via.IDENTIFY)
    assert [d.name for d in services.commands.visible_datasets(someone)] == ["contacts"]
    assert services.commands.dataset_for(someone, "contacts").key == "email"
    with pytest.raises(CommandError) as refused:
        services.commands.dataset_for(someone, "products")
    assert refused.value.status == 403
