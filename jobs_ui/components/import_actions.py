"""What a finished import offers next: commit a dry run, undo an import, and where it came from.

Plain functions of the job page's state (`jobs_ui.pages.import_job.ImportJob`): the dry-run
panel (what would change, then Import or Back to mapping), the Undo button with a
confirmation that says what it will do, and the notes linking a commit, an undo and an
undone import to one another.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

# The job page's state (jobs_ui.pages.import_job.ImportJob); components never import pages.
ImportJob = Any


@dataclasses.dataclass
class FieldChange:
    """One field a dry run would change: `{key, field, from, to}` of the result's changes."""

    key: str
    field: str
    before: str
    after: str


def changes_table(changes: rx.Var[list[FieldChange]]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Key"),
                rx.table.column_header_cell("Field"),
                rx.table.column_header_cell("Now"),
                rx.table.column_header_cell("After the import"),
            )
        ),
        rx.table.body(
            rx.foreach(
                changes,
                lambda change: rx.table.row(
                    rx.table.cell(change.key),
                    rx.table.cell(change.field),
                    rx.table.cell(rx.code(change.before, variant="ghost", color_scheme="gray")),
                    rx.table.cell(rx.code(change.after, variant="ghost")),
                    data_testid="change-row",
                ),
            )
        ),
        variant="surface",
        size="1",
        width="100%",
        data_testid="changes-table",
    )


def dry_run_actions(state: type[ImportJob], form_href: str) -> rx.Component:
    """After a dry run: the fields that would change, then import the checked rows or go back."""
    events: Any = state
    return rx.cond(
        state.is_dry_run & state.is_completed,
        rx.vstack(
            rx.cond(
                state.changes.length() > 0,
                rx.vstack(
                    rx.text("What would change", weight="medium", size="2"),
                    changes_table(state.changes),
                    rx.cond(
                        state.changes_note != "",
                        rx.text(state.changes_note, size="1", color_scheme="gray"),
                    ),
                    width="100%",
                    spacing="2",
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("play", size=16),
                    "Import",
                    size="3",
                    on_click=events.commit_dry_run,
                    loading=state.acting,
                    disabled=state.acting,
                    data_testid="commit-button",
                ),
                rx.link(
                    rx.button(
                        rx.icon("columns_3", size=16),
                        "Back to mapping",
                        variant="soft",
                        color_scheme="gray",
                        size="3",
                    ),
                    href=f"{form_href}?from={state.job_id}",
                    data_testid="back-to-mapping",
                ),
                spacing="3",
            ),
            width="100%",
            spacing="3",
        ),
    )


def undo_control(state: type[ImportJob]) -> rx.Component:
    """Undo, behind a confirmation that says how many rows go and come back."""
    events: Any = state
    return rx.cond(
        state.can_undo,
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button(
                    rx.icon("undo_2", size=16),
                    "Undo this import",
                    variant="soft",
                    color_scheme="red",
                    data_testid="undo-button",
                ),
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Undo this import?"),
                rx.alert_dialog.description(state.undo_confirmation, data_testid="undo-what"),
                rx.hstack(
                    rx.alert_dialog.cancel(
                        rx.button("Keep it", variant="soft", color_scheme="gray"),
                    ),
                    rx.alert_dialog.action(
                        rx.button(
                            "Undo the import",
                            color_scheme="red",
                            variant="surface",  # solid red on white text fails contrast
                            on_click=events.undo_import,
                            data_testid="undo-confirm",
                        ),
                    ),
                    spacing="3",
                    justify="end",
                    margin_top="1rem",
                ),
            ),
        ),
    )


def lineage_notes(state: type[ImportJob], job_href: rx.Var[str] | str) -> rx.Component:
    """Links between a dry run's commit, an undo and the import it undid."""

    def note(text: str, target: Any, test_id: str, icon: str) -> rx.Component:
        return rx.callout(
            rx.hstack(
                rx.text(text),
                rx.link("Open it", href=f"{job_href}{target}", data_testid=f"{test_id}-link"),
                spacing="2",
                wrap="wrap",
            ),
            icon=icon,
            size="1",
            color_scheme="gray",
            data_testid=test_id,
        )

    return rx.fragment(
        rx.cond(
            state.undone_by != "",
            note("This import was undone.", state.undone_by, "undone-note", "undo_2"),
        ),
        rx.cond(
            state.undo_of != "",
            note("This job undid an import.", state.undo_of, "undo-of-note", "undo_2"),
        ),
        rx.cond(
            state.fix_of != "",
            note(
                "These are skipped rows of another import, fixed.",
                state.fix_of,
                "fix-of-note",
                "pencil",
            ),
        ),
        rx.foreach(
            state.fixed_in,
            lambda fix: note(
                "Some of the rows this import skipped were fixed and imported.",
                fix,
                "fixed-in-note",
                "pencil",
            ),
        ),
        rx.cond(
            state.commit_of != "",
            note(
                "These rows were checked by a dry run.",
                state.commit_of,
                "commit-of-note",
                "search_check",
            ),
        ),
    )
