"""A dataset's template: field names as the header, the examples as one row."""

from __future__ import annotations

import dataclasses
import io

import pytest
from openpyxl import load_workbook

from jobs_ui.datasets import registry
from jobs_ui.datasets.fields import FieldSpec
from jobs_ui.engines.template import template_bytes, template_name, template_rows


def spec(name: str, example: object) -> FieldSpec:
    return FieldSpec(name, "text", False, None, (), example)


def test_the_header_is_the_field_names_and_the_row_their_examples():
    assert template_rows(registry.get("products")) == (
        ["sku", "name", "price", "stock"],
        ["BOLT-M8-40", "Hex bolt M8 x 40", "0.35", 1200],
    )


def test_csv_templates_byte_for_byte():
    assert template_bytes(registry.get("contacts"), "csv") == (
        b"name,email,company,phone\r\n"
        # Neutralised as exports are (a leading + is a formula); imports take the quote off.
        b"Grace Hopper,grace@example.com,Remington Rand,'+44 20 7946 0000\r\n"
    )
    assert template_bytes(registry.get("products"), "csv") == (
        b"sku,name,price,stock\r\nBOLT-M8-40,Hex bolt M8 x 40,0.35,1200\r\n"
    )


def test_xlsx_template_cells():
    book = load_workbook(io.BytesIO(template_bytes(registry.get("products"), "xlsx")))
    assert book.sheetnames == ["data"]
    rows = list(book["data"].iter_rows())
    assert [[cell.value for cell in row] for row in rows] == [
        ["sku", "name", "price", "stock"],
        ["BOLT-M8-40", "Hex bolt M8 x 40", "0.35", 1200],
    ]
    assert all(cell.font.bold for cell in rows[0])


def test_a_field_without_an_example_is_left_empty_and_formulas_are_neutralised():
    odd = dataclasses.replace(
        registry.get("contacts"),
        name="odd",
        specs=(spec("a", None), spec("b", '=HYPERLINK("x")'), spec("c", 'Zoë, "the" Great')),
    )
    assert template_bytes(odd, "csv").decode() == (
        'a,b,c\r\n,"\'=HYPERLINK(""x"")","Zoë, ""the"" Great"\r\n'
    )
    book = load_workbook(io.BytesIO(template_bytes(odd, "xlsx")))
    values = [[cell.value for cell in row] for row in book["data"].iter_rows()]
    assert values == [["a", "b", "c"], [None, '\'=HYPERLINK("x")', 'Zoë, "the" Great']]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_download_name(file_format):
    assert template_name(registry.get("contacts"), file_format) == (
        f"contacts-template.{file_format}"
    )
