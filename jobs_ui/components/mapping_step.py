"""The import form's mapping step: one row per dataset field, the file's column for it.

The column pickers are native <select> elements: "Not imported" needs an empty value (a
Radix select item may not have one), the browser's own keyboard handling works with no
script (Tab to it, arrows or a typed letter change it, Alt+Down opens the list), and
assistive tools and Playwright's `select_option` know them as plain form controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx

from jobs_ui.components.form import form_card, message_callout
from jobs_ui.engines.modes import ImportMode

if TYPE_CHECKING:
    from jobs_ui.state.mapping import MappingStep

NOT_IMPORTED = "Not imported"

# The native select, dressed in the theme's colours (light and dark alike).
SELECT_STYLE = {
    "width": "100%",
    "min_width": "10rem",
    "padding": "0.35rem 0.5rem",
    "border": "1px solid var(--gray-a8)",
    "border_radius": "var(--radius-2)",
    "background_color": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "var(--font-size-2)",
    "color_scheme": "inherit",
}


def column_select(state: type[MappingStep], row: Any) -> rx.Component:
    """The file's columns for one field, and "Not imported"."""
    events: Any = state  # mypy reads rx.event's handlers as instances of its class
    return rx.el.select(
        rx.el.option(NOT_IMPORTED, value=""),
        rx.foreach(state.columns, lambda column: rx.el.option(column, value=column)),
        # The select owns its value while a person changes it (arrow keys send a change per
        # step, faster than the state answers); a new inspection remounts it (`key`).
        default_value=row.column,
        key=f"{state.upload_id}:{state.sheet}:{row.name}",
        on_change=lambda column: events.set_column(row.name, column),
        aria_label=f"Column for {row.name}",
        data_testid=f"column-{row.name}",
        style=SELECT_STYLE,
    )


def field_cell(row: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row.name, weight="medium", size="2"),
            rx.cond(
                row.required,
                rx.badge("required", color_scheme="red", variant="soft", size="1"),
                rx.text("optional", size="1", color_scheme="gray"),
            ),
            align="center",
            spacing="2",
        ),
        rx.cond(
            row.description != "",
            rx.text(row.description, size="1", color_scheme="gray"),
        ),
        spacing="1",
    )


def mapping_table(state: type[MappingStep]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Field"),
                rx.table.column_header_cell("Column in the file", width="14rem"),
                rx.table.column_header_cell("First values"),
            )
        ),
        rx.table.body(
            rx.foreach(
                state.field_rows,
                lambda row: rx.table.row(
                    rx.table.row_header_cell(field_cell(row)),
                    rx.table.cell(column_select(state, row)),
                    rx.table.cell(
                        rx.cond(
                            row.samples != "",
                            rx.text(row.samples, size="2", data_testid=f"samples-{row.name}"),
                            rx.text("—", size="2", color_scheme="gray"),
                        )
                    ),
                    align="center",
                    data_testid="mapping-row",
                ),
            )
        ),
        variant="surface",
        size="2",
        width="100%",
        data_testid="mapping-table",
    )


def sheet_picker(state: type[MappingStep]) -> rx.Component:
    """A workbook's sheets; another one is read at once."""
    events: Any = state
    return rx.cond(
        state.has_sheets,
        rx.hstack(
            rx.el.label("Sheet", html_for="mapping-sheet", style={"font_weight": "500"}),
            rx.el.select(
                rx.foreach(state.sheets, lambda sheet: rx.el.option(sheet, value=sheet)),
                id="mapping-sheet",
                value=state.sheet,
                on_change=events.choose_sheet,
                data_testid="sheet-select",
                style={**SELECT_STYLE, "width": "auto"},
            ),
            align="center",
            spacing="3",
        ),
    )


def mode_picker(state: type[MappingStep]) -> rx.Component:
    """What to do with rows whose key the table holds, and whether to check first."""
    events: Any = state
    return rx.vstack(
        rx.hstack(
            rx.el.label("Rows", html_for="import-mode", style={"font_weight": "500"}),
            rx.el.select(
                *[rx.el.option(mode.label, value=mode.value) for mode in ImportMode],
                id="import-mode",
                value=state.mode,
                on_change=events.set_mode,
                data_testid="mode-select",
                style={**SELECT_STYLE, "width": "auto"},
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.text(state.mode_note, size="1", color_scheme="gray", data_testid="mode-note"),
        rx.el.label(
            rx.hstack(
                rx.checkbox(
                    checked=state.dry_run,
                    on_change=events.set_dry_run,
                    data_testid="dry-run-checkbox",
                    # The box is a button: it needs its own name (the text beside it is not).
                    custom_attrs={"aria-label": "Dry run first"},
                ),
                rx.text("Dry run first: see what would change, writing nothing", size="2"),
                align="center",
                spacing="2",
            ),
        ),
        spacing="2",
    )


def mapping_step(state: type[MappingStep]) -> rx.Component:
    """Step 2 of the import form: check the mapping, then import."""
    events: Any = state
    return form_card(
        rx.hstack(
            rx.icon("file_spreadsheet", size=18),
            rx.text(state.file_name, weight="medium", data_testid="mapping-file"),
            rx.text(
                f"into {state.mapped_dataset}", color_scheme="gray", data_testid="mapping-dataset"
            ),
            align="center",
            spacing="2",
        ),
        rx.text(
            "Check which column of the file goes into each field. "
            "Columns left unmapped are not imported.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            state.remembered,
            rx.callout(
                "Your mapping from last time, for a file with these columns.",
                icon="history",
                size="1",
                data_testid="remembered-note",
            ),
        ),
        sheet_picker(state),
        mode_picker(state),
        mapping_table(state),
        message_callout(state.mapping_error, test_id="mapping-error"),
        rx.cond(
            state.import_blocker != "",
            rx.text(
                state.import_blocker, size="2", color_scheme="red", data_testid="import-blocker"
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("arrow_left", size=16),
                "Back",
                variant="soft",
                color_scheme="gray",
                size="3",
                on_click=events.back_to_file,
                data_testid="back-button",
            ),
            rx.button(
                rx.cond(state.dry_run, rx.icon("search_check", size=16), rx.icon("play", size=16)),
                rx.cond(state.dry_run, "Dry run", "Import"),
                size="3",
                disabled=(state.import_blocker != "") | state.importing,
                loading=state.importing,
                on_click=events.import_mapped,
                data_testid="import-button",
            ),
            spacing="3",
        ),
    )
