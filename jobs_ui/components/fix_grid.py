"""The grid that fixes an import's skipped rows: plain functions of its page's state
(`jobs_ui.pages.fix_rows.FixRows`).

The grid is an HTML table of native text inputs, one per cell, not a canvas-drawn data
grid: Tab and Shift+Tab walk the cells, every browser's own editing keys work, each cell
has a label ("Row 12, price") and an invalid mark a screen reader announces, and a browser
test finds a cell by its label and fills it as a person would. A cell is checked on the
server as focus leaves it (its row, with the other edited rows).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from jobs_ui.components.form import message_callout
from jobs_ui.components.layout import page
from jobs_ui.components.mapping_step import SELECT_STYLE

FixRows = Any  # the page's state (jobs_ui.pages.fix_rows.FixRows); components never import pages

CELL_STYLE = {
    **SELECT_STYLE,
    "min_width": "8rem",
    "font_family": "var(--code-font-family)",
}
BAD_CELL_STYLE = {**CELL_STYLE, "border": "2px solid var(--red-9)"}


def fix_grid_view(state: type[FixRows]) -> rx.Component:
    return page(
        rx.link(
            rx.hstack(rx.icon("arrow_left", size=16), "Back to the import", align="center"),
            href=state.back_href,
            data_testid="back-to-import",
        ),
        message_callout(state.load_error, test_id="fix-load-error", icon="circle_alert"),
        rx.cond((state.load_error == "") & state.loaded, _grid(state)),
        rx.cond(~state.loaded, rx.spinner()),
        heading=state.heading,
        lead=(
            "Change what is wrong and leave the cell: it is checked at once, as the import "
            "would check it. Then import the rows you fixed; rows still wrong are skipped "
            "again with their reasons."
        ),
    )


def _grid(state: type[FixRows]) -> rx.Component:
    return rx.vstack(
        _toolbar(state),
        rx.box(_table(state), width="100%", overflow_x="auto"),
        _pager(state),
        message_callout(state.action_error, test_id="fix-action-error", icon="circle_alert"),
        rx.button(
            rx.icon("upload", size=16),
            state.import_label,
            on_click=state.import_fixed,
            disabled=~state.can_import,
            loading=state.importing,
            size="3",
            data_testid="import-fixed-rows",
        ),
        width="100%",
        spacing="4",
    )


def _toolbar(state: type[FixRows]) -> rx.Component:
    return rx.hstack(
        rx.badge(
            state.still_wrong_text,
            color_scheme=rx.cond(state.still_wrong == 0, "green", "amber"),
            high_contrast=True,  # amber's own text is too light to read on its tint
            size="2",
            role="status",
            aria_live="polite",
            data_testid="still-wrong",
        ),
        rx.spacer(),
        rx.el.label(
            "Show ",
            rx.el.select(
                rx.el.option("Every reason", value="all"),
                rx.foreach(
                    state.reasons,
                    lambda choice: rx.el.option(choice.label, value=choice.message),
                ),
                value=state.reason,
                on_change=state.filter_by,
                data_testid="reason-filter",
                style={**SELECT_STYLE, "width": "auto", "max_width": "28rem"},
            ),
            style={"font_size": "var(--font-size-2)"},
        ),
        width="100%",
        align="center",
        wrap="wrap",
    )


def _table(state: type[FixRows]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Row", width="4em"),
                rx.foreach(state.fields, lambda name: rx.table.column_header_cell(name)),
                rx.table.column_header_cell("", width="2em"),
            )
        ),
        rx.table.body(rx.foreach(state.rows, lambda row: _row(state, row))),
        variant="surface",
        size="1",
        width="100%",
        data_testid="fix-grid",
    )


def _row(state: type[FixRows], row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(row.row, weight="medium"),
                rx.cond(row.row_error != "", rx.text(row.row_error, size="1", color_scheme="red")),
                spacing="1",
            )
        ),
        rx.foreach(row.cells, lambda cell: rx.table.cell(_cell(state, cell))),
        rx.table.cell(
            rx.cond(
                row.fixed,
                rx.icon("circle_check", color="var(--green-9)", size=18, aria_label="Fixed"),
            )
        ),
        data_testid="fix-row",
        data_fixed=rx.cond(row.fixed, "true", "false"),
    )


def _cell(state: type[FixRows], cell: Any) -> rx.Component:
    events: Any = state
    bad = cell.error != ""
    error_id = f"error-{cell.row}-{cell.field}"
    return rx.vstack(
        rx.el.input(
            default_value=cell.value,
            key=cell.key,
            on_blur=lambda value: events.cell_left(cell.row, cell.field, value),
            aria_label=f"Row {cell.row}, {cell.field}",
            aria_invalid=rx.cond(bad, "true", "false"),
            aria_describedby=rx.cond(bad, error_id, ""),
            style=rx.cond(bad, BAD_CELL_STYLE, CELL_STYLE),
            data_testid="fix-cell",
        ),
        rx.cond(bad, rx.text(cell.error, id=error_id, size="1", color_scheme="red")),
        spacing="1",
    )


def _pager(state: type[FixRows]) -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron_left", size=16),
            "Previous",
            on_click=state.previous_page,
            disabled=~state.has_previous,
            variant="soft",
            data_testid="previous-page",
        ),
        rx.text(state.range_text, size="2", data_testid="fix-range"),
        rx.button(
            "Next",
            rx.icon("chevron_right", size=16),
            on_click=state.next_page,
            disabled=~state.has_next,
            variant="soft",
            data_testid="next-page",
        ),
        align="center",
        spacing="3",
    )
