"""The import form shows what the chosen dataset expects, and links its template."""

from __future__ import annotations

import reflex as rx

from jobs_ui.components.dataset_fields import FieldRow, expected_fields, guide_for
from jobs_ui.pages.imports import ImportFormState, import_form


def state_of(cls):
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    return root.get_substate(cls.get_full_name().split(".")[1:])


def test_the_guide_follows_the_chosen_dataset():
    form = state_of(ImportFormState)
    assert form.dataset == "contacts"
    guide = form.dataset_guide
    assert [row.name for row in guide.fields] == ["name", "email", "company", "phone"]
    assert guide.fields[0] == FieldRow(
        name="name",
        type="text",
        required=True,
        description="the contact's name",
        example="Grace Hopper",
    )
    assert guide.csv_href.endswith("/api/import-export/datasets/contacts/template?format=csv")
    assert guide.xlsx_href.endswith("/api/import-export/datasets/contacts/template?format=xlsx")
    form.choose_dataset("products")
    products = form.dataset_guide
    assert [(row.name, row.type, row.example) for row in products.fields] == [
        ("sku", "text", "BOLT-M8-40"),
        ("name", "text", "Hex bolt M8 x 40"),
        ("price", "decimal", "0.35"),
        ("stock", "integer", "1200"),
    ]
    assert "/datasets/products/template" in products.csv_href


def test_a_name_nobody_registered_shows_no_fields():
    assert guide_for("nope").fields == []
    form = state_of(ImportFormState)
    form.choose_dataset("nope")
    assert form.dataset_guide.fields == [] and form.dataset_guide.csv_href == ""


def test_the_form_renders_the_table_and_the_links_below_the_picker():
    rendered = str(import_form())
    for test_id in ("dataset-select", "dataset-fields", "dataset-field-row", "form-error"):
        assert f'"data-testid":"{test_id}"' in rendered, test_id
    assert rendered.index('"dataset-select"') < rendered.index('"dataset-fields"')
    assert rendered.index('"dataset-fields"') < rendered.index("Drop a file here")
    assert "Download the template (CSV)" in rendered
    assert "Download the template (Excel)" in rendered


def test_the_table_has_column_and_row_headers_and_a_name():
    rendered = str(expected_fields(ImportFormState.dataset_guide))  # type: ignore[arg-type]
    assert rendered.count('scope:"col"') == 5 and 'scope:"row"' in rendered
    assert '"aria-labelledby":"dataset-fields-heading"' in rendered
    assert 'id:"dataset-fields-heading"' in rendered
    for heading in ("Field", "Required", "Type", "What it holds", "Example"):
        assert f'"{heading}"' in rendered
    # Files to save, not pages of the app: the router must not take the links over.
    assert rendered.count("reloadDocument:true") == 2
