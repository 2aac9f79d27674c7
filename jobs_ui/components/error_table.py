"""The rows an import skipped, as a table."""

from __future__ import annotations

import dataclasses

import reflex as rx


@dataclasses.dataclass
class RowError:
    """One skipped row, as the import result's `errors` lists it."""

    row: int
    message: str


def row_errors_table(errors: rx.Var[list[RowError]]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Row", width="5em"),
                rx.table.column_header_cell("Why it was skipped"),
            )
        ),
        rx.table.body(
            rx.foreach(
                errors,
                lambda error: rx.table.row(
                    rx.table.cell(error.row),
                    rx.table.cell(error.message),
                ),
            )
        ),
        variant="surface",
        size="1",
        width="100%",
        data_testid="error-table",
    )
