"""What a dataset expects of an import file: its fields, and its template to download."""

from __future__ import annotations

import dataclasses

import reflex as rx

from jobs_ui.datasets import UnknownDatasetError, registry
from jobs_ui.state.backend import browser_url
from jobs_ui.urls import dataset_template_url


@dataclasses.dataclass
class FieldRow:
    """One field of the chosen dataset, as the import form lists it."""

    name: str
    type: str
    required: bool
    description: str
    example: str


@dataclasses.dataclass
class DatasetGuide:
    """What a dataset expects of an import file: its fields, and where its template is."""

    fields: list[FieldRow] = dataclasses.field(default_factory=list)
    csv_href: str = ""
    xlsx_href: str = ""


def guide_for(name: str) -> DatasetGuide:
    """The guide to a dataset's fields, in column order; empty for a name nobody registered
    (a tab may set any name)."""
    try:
        dataset = registry.get(name)
    except UnknownDatasetError:
        return DatasetGuide()
    rows = [
        FieldRow(
            name=spec.name,
            type=spec.type,
            required=spec.required,
            description=spec.description or "",
            example="" if spec.example is None else str(spec.example),
        )
        for spec in dataset.specs
    ]
    return DatasetGuide(
        fields=rows,
        csv_href=browser_url(dataset_template_url(dataset.name, "csv")),
        xlsx_href=browser_url(dataset_template_url(dataset.name, "xlsx")),
    )


def _required_mark(required: rx.Var[bool]) -> rx.Component:
    # Words, not only colour or a star: a screen reader says "required" too.
    return rx.cond(
        required,
        rx.badge("required", color_scheme="red", variant="soft"),
        rx.text("optional", size="1", color_scheme="gray"),
    )


def _header(text: str) -> rx.Component:
    return rx.table.column_header_cell(text, custom_attrs={"scope": "col"})


def expected_fields(guide: rx.vars.ObjectVar[DatasetGuide]) -> rx.Component:
    """The fields as a table (a file's columns should be these, in any order), and links to
    the dataset's template: its header row is these names, so it imports with no mapping."""
    fields = guide.fields
    return rx.cond(
        fields.length() > 0,
        rx.vstack(
            rx.text(
                "Columns the file should have",
                weight="medium",
                size="2",
                id="dataset-fields-heading",
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        _header("Field"),
                        _header("Required"),
                        _header("Type"),
                        _header("What it holds"),
                        _header("Example"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        fields,
                        lambda field: rx.table.row(
                            rx.table.row_header_cell(
                                rx.code(field.name), custom_attrs={"scope": "row"}
                            ),
                            rx.table.cell(_required_mark(field.required)),
                            rx.table.cell(field.type),
                            rx.table.cell(field.description),
                            rx.table.cell(field.example),
                            data_testid="dataset-field-row",
                        ),
                    )
                ),
                variant="surface",
                size="1",
                width="100%",
                custom_attrs={"aria-labelledby": "dataset-fields-heading"},
                data_testid="dataset-fields",
            ),
            rx.hstack(
                rx.icon("download", size=14),
                rx.link(
                    "Download the template (CSV)",
                    href=guide.csv_href,
                    # A file to save, not a page: no client-side routing.
                    reload_document=True,
                    download="",
                    data_testid="template-csv-link",
                ),
                rx.text("·", color_scheme="gray", custom_attrs={"aria-hidden": "true"}),
                rx.link(
                    "Download the template (Excel)",
                    href=guide.xlsx_href,
                    reload_document=True,
                    download="",
                    data_testid="template-xlsx-link",
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            width="100%",
            spacing="2",
        ),
    )
