"""/imports/[job_id]: watch an import, then its counts and its skipped rows by reason.

Built from its state class, so a developer's page for one dataset
(`jobs_ui.pages.extra.add_import_page`) is the same page with its own state.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.error_table import (
    ErrorGroup,
    RowError,
    error_summary,
    row_errors_table,
)
from jobs_ui.components.import_actions import (
    FieldChange,
    dry_run_actions,
    lineage_notes,
    undo_control,
)
from jobs_ui.components.progress_card import job_page
from jobs_ui.engines.mapping import is_mapping_failure
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.execution import retry_can_help
from jobs_ui.jobs.outcome_text import outcome_sentence, rows
from jobs_ui.state.backend import browser_url, commands, principal_of, run_command
from jobs_ui.state.job_status import JobStatusState, job_uuid


class ImportJob(JobStatusState, mixin=True):
    """One import being followed: counts, summary and skipped rows; a dry run's changes,
    with its commit; an import's undo."""

    acting: bool = False  # a commit or an undo is being started
    fixed_in: list[str] = []  # the imports of this one's skipped rows, fixed (job ids)

    def _take(self, item: Any) -> list[Any]:
        was = self.status
        hooks = super()._take(item)
        if self.status == "COMPLETED" != was:
            cls: Any = self.__class__
            hooks.append(cls.load_fixes())
        return hooks

    @rx.event
    async def load_fixes(self) -> None:
        """Which imports took in this one's skipped rows, once fixed (for the links)."""
        try:
            principal = await principal_of(self)
            fixes = await run_command(commands().fixes_of, principal, job_uuid(self.job_id))
        except CommandError:
            return
        self.fixed_in = [str(fix.id) for fix in fixes]

    @rx.var
    def may_fix(self) -> bool:
        """Completed with skipped rows still stored: they can be fixed in the grid."""
        return (
            self.is_completed
            and self.skipped_count > 0
            and not self.undo_of
            and not self.result.get("filesDeleted")
        )

    @rx.var
    def imported_count(self) -> int:
        return self._count("importedCount")

    @rx.var
    def skipped_count(self) -> int:
        return self._count("skippedCount")

    @rx.var
    def is_dry_run(self) -> bool:
        return bool(self.result.get("dryRun"))

    @rx.var
    def summary(self) -> str:
        """The counts in a sentence, for an import, a dry run or an undo."""
        return outcome_sentence(self.result, undo=bool(self.undo_of))

    @rx.var
    def headline(self) -> str:
        if self.undo_of:
            return f"Undo of an import into {self.dataset}"
        into = f" into {self.dataset}" if self.dataset else ""
        name = self.result.get("fileName")
        of = f" of {name}" if name else ""
        return f"Dry run{of}{into}" if self.is_dry_run else f"Import{of}{into}"

    @rx.var
    def changes(self) -> list[FieldChange]:
        return [
            FieldChange(
                key=_text(change.get("key")),
                field=_text(change.get("field")),
                before=_text(change.get("from")),
                after=_text(change.get("to")),
            )
            for change in self.result.get("changes") or []
        ]

    @rx.var
    def changes_note(self) -> str:
        """Says the list is a sample when more rows would change than it shows."""
        listed = len(self.result.get("changes") or [])
        if listed and self._count("wouldUpdate") > len({c.key for c in self.changes}):
            return f"The first {listed} changed fields are shown."
        return ""

    @rx.var
    def can_undo(self) -> bool:
        """A completed import that changed rows, not undone yet (nor an undo itself)."""
        return (
            self.is_completed
            and not self.is_dry_run
            and not self.undo_of
            and not self.undone_by
            and self.imported_count > 0
        )

    @rx.var
    def undo_confirmation(self) -> str:
        created, updated = self._count("createdCount"), self._count("updatedCount")
        if not (created or updated):  # an import from before modes: every row was new
            created = self.imported_count
        parts = []
        if created:
            parts.append(f"deletes the {rows(created)} this import created")
        if updated:
            parts.append(f"gives the {rows(updated)} it updated their values from before it")
        return f"Undoing {' and '.join(parts)}. Rows changed since the import are left as they are."

    def _count(self, name: str) -> int:
        return int(self.result.get(name, 0) or 0)

    @rx.event
    async def commit_dry_run(self) -> Any:
        """Import the rows the dry run checked, and go and watch that import."""
        return await self._start(commands().commit)

    @rx.event
    async def undo_import(self) -> Any:
        """Undo the followed import, and go and watch the undo."""
        return await self._start(commands().undo)

    async def _start(self, command: Any) -> Any:
        if self.acting:
            return None
        self.acting, self.action_error = True, ""
        try:
            principal = await principal_of(self)
            created = await run_command(command, principal, job_uuid(self.job_id))
        except CommandError as error:
            self.action_error = error.message
            return None
        finally:
            self.acting = False
        return rx.redirect(routes.job_page("IMPORT", str(created.job.id)))

    @rx.var
    def row_errors(self) -> list[RowError]:
        return [
            RowError(
                row=int(error.get("row", 0)),
                message=str(error.get("message", "")),
                field=_text(error.get("field")),
                column=_text(error.get("column")),
                value=_text(error.get("value")),
            )
            for error in self.result.get("errors") or []
        ]

    @rx.var
    def error_groups(self) -> list[ErrorGroup]:
        """Why rows were skipped, one entry per reason, the most common first."""
        return [
            ErrorGroup(
                message=str(group.get("message", "")),
                count=int(group.get("count", 0) or 0),
                field=_text(group.get("field")),
                column=_text(group.get("column")),
                examples=", ".join(f"“{value}”" for value in group.get("examples") or []),
                rows=rows_label(group.get("rows") or [], int(group.get("count", 0) or 0)),
            )
            for group in self.result.get("errorSummary") or []
        ]

    @rx.var
    def may_remap(self) -> bool:
        """Completed with skipped rows: a column mapped to the wrong field is a common cause,
        so the same file can go back to the mapping step."""
        return self.is_completed and self.skipped_count > 0 and not self.undo_of

    @rx.var
    def needs_mapping(self) -> bool:
        """Failed because the file's columns did not fit: mapping them, not a retry, helps."""
        return self.status == "FAILED" and is_mapping_failure(self.error)

    @rx.var
    def can_retry(self) -> bool:
        """Retry is offered where running again can help: after a cancel, or a failure of
        the server's (a restart, a lost worker); not after one the file itself causes."""
        return self.is_cancelled or (self.is_failed and retry_can_help(self.error))

    @rx.var
    def error_report_href(self) -> str:
        return browser_url(self.result.get("errorReportUrl"))


class ImportJobState(ImportJob, rx.State):
    """The import followed on /imports/[job_id]."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def map_columns_link(state: type[ImportJob], form_href: str) -> rx.Component:
    """The import's file, on the form's mapping step: for an import that failed on its
    columns, or one that skipped rows (a wrong column is a common cause)."""

    def link(label: str, test_id: str) -> rx.Component:
        return rx.link(
            rx.hstack(rx.icon("columns_3", size=16), label, align="center"),
            href=f"{form_href}?from={state.job_id}",
            weight="medium",
            data_testid=test_id,
        )

    return rx.cond(
        state.needs_mapping,
        link("Map the columns", "map-columns"),
        rx.cond(state.may_remap, link("Wrong column? Map the columns again", "remap-columns")),
    )


def fix_rows_link(state: type[ImportJob], form_href: str) -> rx.Component:
    """To the grid of this import's skipped rows (and its dry run's)."""
    return rx.cond(
        state.may_fix,
        rx.link(
            rx.button(rx.icon("pencil", size=16), "Fix skipped rows", variant="soft"),
            href=f"{form_href}/{state.job_id}/fix",
            data_testid="fix-rows-link",
        ),
    )


def import_outcome(
    state: type[ImportJob] = ImportJobState, *, form_href: str = routes.IMPORTS
) -> rx.Component:
    return rx.fragment(
        lineage_notes(state, f"{form_href}/"),
        _completed_outcome(state),
        fix_rows_link(state, form_href),
        dry_run_actions(state, form_href),
        rx.cond(~state.is_dry_run, map_columns_link(state, form_href)),
        undo_control(state),
    )


def rows_label(rows: list[object], count: int) -> str:
    """ "Row 10", "Rows 3, 5", or "First rows 3, 5, … of 40" when the list is a sample."""
    listed = ", ".join(str(row) for row in rows)
    if len(rows) == 1 and count <= 1:
        return f"Row {listed}"
    if count > len(rows):
        return f"First rows {listed} (of {count:,})"
    return f"Rows {listed}"


def _completed_outcome(state: type[ImportJob]) -> rx.Component:
    # Green when every row went in; amber when some were skipped; red when none went in.
    summary = rx.cond(
        state.is_dry_run,
        rx.callout(
            state.summary, icon="search_check", color_scheme="blue", data_testid="import-summary"
        ),
        _import_summary(state),
    )
    return rx.cond(
        state.is_completed,
        rx.vstack(
            summary,
            _skipped_rows(state),
            width="100%",
            spacing="3",
        ),
    )


def _import_summary(state: type[ImportJob]) -> rx.Component:
    return rx.cond(
        state.skipped_count == 0,
        rx.callout(
            state.summary, icon="circle_check", color_scheme="green", data_testid="import-summary"
        ),
        rx.callout(
            state.summary,
            icon="triangle_alert",
            color_scheme=rx.cond(state.imported_count == 0, "red", "amber"),
            data_testid="import-summary",
        ),
    )


def _skipped_rows(state: type[ImportJob]) -> rx.Component:
    return rx.cond(
        state.skipped_count > 0,
        rx.vstack(
            error_summary(state.error_groups),
            row_errors_table(state.row_errors),
            rx.cond(
                state.error_report_href != "",
                rx.link(
                    rx.hstack(
                        rx.icon("download", size=14),
                        "Download the full error report (CSV)",
                        align="center",
                    ),
                    href=state.error_report_href,
                    is_external=False,
                    data_testid="error-report-link",
                ),
                rx.text(
                    "The full error report is no longer stored (files are kept for a "
                    "while after a job ends).",
                    size="2",
                    color_scheme="gray",
                    data_testid="error-report-deleted",
                ),
            ),
            width="100%",
            spacing="3",
        ),
    )


def import_job_page(
    state: type[ImportJob] = ImportJobState,
    *,
    heading: str = "Import",
    back_href: str = routes.IMPORTS,
) -> rx.Component:
    return job_page(
        state,
        import_outcome(state, form_href=back_href),
        title=state.headline,
        heading=heading,
        back_href=back_href,
        back_label="Import another file",
        can_retry=state.can_retry,
        message_when_done=False,  # the summary says the counts
    )
