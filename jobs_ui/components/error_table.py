"""The rows an import skipped: grouped by reason, then one by one."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx


@dataclasses.dataclass
class RowError:
    """One skipped row's problem, as the import result's `errors` lists it."""

    row: int
    message: str
    field: str = ""
    column: str = ""  # the file's column the field was read from
    value: str = ""  # the cell as the file had it


@dataclasses.dataclass
class ErrorGroup:
    """One reason rows were skipped, as the import result's `errorSummary` lists it."""

    message: str
    count: int
    field: str = ""
    column: str = ""
    examples: str = ""  # a few of the values, quoted, comma-separated
    rows: str = ""  # "Row 4", "Rows 3, 5", "First rows 3, 5 (of 40)"


def row_errors_table(errors: rx.Var[list[RowError]]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Row", width="5em"),
                rx.table.column_header_cell("Column"),
                rx.table.column_header_cell("Value"),
                rx.table.column_header_cell("Why it was skipped"),
            )
        ),
        rx.table.body(
            rx.foreach(
                errors,
                lambda error: rx.table.row(
                    rx.table.cell(error.row),
                    rx.table.cell(error.column),
                    rx.table.cell(rx.code(error.value, variant="ghost", color_scheme="gray")),
                    rx.table.cell(error.message),
                ),
            )
        ),
        variant="surface",
        size="1",
        width="100%",
        data_testid="error-table",
    )


def error_group(group: Any) -> rx.Component:
    """One reason. (Any: rx.foreach hands in an object var of ErrorGroup, whose fields
    mypy cannot see.)"""
    return rx.hstack(
        rx.badge(group.count, color_scheme="red", variant="soft", size="2", min_width="3em"),
        rx.vstack(
            rx.text(group.message, weight="medium", size="2"),
            rx.cond(
                group.column != "",
                rx.text(f"Column “{group.column}”", size="1", color_scheme="gray"),
            ),
            rx.cond(
                group.examples != "",
                rx.text(f"Values such as {group.examples}", size="1", color_scheme="gray"),
            ),
            rx.cond(
                group.rows != "",
                rx.text(group.rows, size="1", color_scheme="gray"),
            ),
            spacing="1",
        ),
        align="start",
        spacing="3",
        data_testid="error-group",
    )


def error_summary(groups: rx.Var[list[ErrorGroup]]) -> rx.Component:
    """The reasons rows were skipped, the most common first."""
    return rx.cond(
        groups.length() > 0,  # type: ignore[attr-defined]  # an ArrayVar at run time
        rx.vstack(
            rx.text("Why rows were skipped", weight="bold", size="3"),
            rx.foreach(groups, error_group),
            spacing="3",
            width="100%",
            data_testid="error-summary",
        ),
    )
