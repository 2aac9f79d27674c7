"""The rows an import skipped, as a table."""

from __future__ import annotations

from typing import Any

import reflex as rx


def row_errors_table(errors: rx.Var[list[dict[str, Any]]]) -> rx.Component:
    """`errors` is a list of `{row, message}` (the import result's `errors`)."""
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
                    rx.table.cell(error["row"].to_string()),
                    rx.table.cell(error["message"].to_string()),
                ),
            )
        ),
        variant="surface",
        size="1",
        width="100%",
        data_testid="error-table",
    )
