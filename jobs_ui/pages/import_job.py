"""/imports/[job_id]: watch an import, then its counts and its skipped rows by reason.

Built from its state class, so a developer's page for one dataset
(`jobs_ui.pages.extra.add_import_page`) is the same page with its own state.
"""

from __future__ import annotations

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.error_table import (
    ErrorGroup,
    RowError,
    error_summary,
    row_errors_table,
)
from jobs_ui.components.progress_card import job_page
from jobs_ui.engines.mapping import is_mapping_failure
from jobs_ui.jobs.execution import retry_can_help
from jobs_ui.state.backend import browser_url
from jobs_ui.state.job_status import JobStatusState


class ImportJob(JobStatusState, mixin=True):
    """One import being followed: counts, summary and skipped rows."""

    @rx.var
    def imported_count(self) -> int:
        return int(self.result.get("importedCount", 0) or 0)

    @rx.var
    def skipped_count(self) -> int:
        return int(self.result.get("skippedCount", 0) or 0)

    @rx.var
    def summary(self) -> str:
        """ "Imported N rows" ("1 row"), then ", skipped M" when rows were skipped."""
        noun = "row" if self.imported_count == 1 else "rows"
        text = f"Imported {self.imported_count:,} {noun}"
        return f"{text}, skipped {self.skipped_count:,}" if self.skipped_count else text

    @rx.var
    def headline(self) -> str:
        return f"Import into {self.dataset}" if self.dataset else "Import"

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
        return self.is_completed and self.skipped_count > 0

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


def import_outcome(
    state: type[ImportJob] = ImportJobState, *, form_href: str = routes.IMPORTS
) -> rx.Component:
    return rx.fragment(_completed_outcome(state), map_columns_link(state, form_href))


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
    return rx.cond(
        state.is_completed,
        rx.vstack(
            summary,
            rx.cond(
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
    )
