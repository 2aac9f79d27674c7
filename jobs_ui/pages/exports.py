"""/exports: choose what to export; /exports/[job_id]: watch it, then download."""

from __future__ import annotations

from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.form import (
    dataset_select,
    field_label,
    first_dataset,
    form_card,
    message_callout,
)
from jobs_ui.components.layout import page
from jobs_ui.components.progress_card import job_page
from jobs_ui.jobs.commands import CommandError, ExportFormat
from jobs_ui.state.backend import (
    browser_url,
    commands,
    download_in_browser,
    principal_of,
    run_command,
)
from jobs_ui.state.job_status import JobStatusState

EXPORT_FORMATS: tuple[tuple[ExportFormat, str], ...] = (
    ("csv", "CSV"),
    ("jsonl", "JSON Lines"),
    ("xlsx", "Excel (XLSX)"),
)


def _export_format(value: str) -> ExportFormat:
    """The format the form chose; anything else a tab sends is refused like the API does."""
    for known, _label in EXPORT_FORMATS:
        if value == known:
            return known
    raise CommandError(422, "format: choose csv, jsonl or xlsx.")


class ExportJobState(JobStatusState, rx.State):
    """One export being followed; its file downloads by itself once, as it completes."""

    # The export this tab just started: only that one downloads by itself, and only once.
    _download_when_done: str = ""

    @rx.var
    def headline(self) -> str:
        return f"Export of {self.dataset}" if self.dataset else "Export"

    @rx.var
    def download_href(self) -> str:
        return browser_url(self.result.get("fileUrl"))

    @rx.var
    def file_name(self) -> str:
        return str(self.result.get("fileName") or "")

    @rx.var
    def row_count(self) -> int:
        return int(self.result.get("rowCount") or 0)

    @rx.var
    def file_deleted(self) -> bool:
        return bool(self.result.get("filesDeleted"))

    @rx.event
    def on_complete(self, result: dict[str, Any]) -> Any:
        if self._download_when_done != self.job_id or not result.get("fileUrl"):
            return None
        self._download_when_done = ""
        return download_in_browser(str(result["fileUrl"]))


class ExportFormState(rx.State):
    dataset: str = first_dataset()
    file_format: str = "csv"
    search: str = ""
    starting: bool = False
    form_error: str = ""

    @rx.event
    def choose_dataset(self, dataset: str) -> None:
        self.dataset = dataset

    @rx.event
    def choose_format(self, file_format: str) -> None:
        self.file_format = file_format

    @rx.event
    def set_search(self, search: str) -> None:
        self.search = search

    @rx.event
    async def start_export(self) -> Any:
        self.form_error, self.starting = "", True
        try:
            principal = await principal_of(self)
            created = await run_command(
                commands().create_export,
                principal,
                dataset=self.dataset,
                file_format=_export_format(self.file_format),
                search=self.search.strip(),
            )
        except CommandError as error:
            self.form_error = error.message
            return None
        finally:
            self.starting = False
        job_id = str(created.job.id)
        follower = await self.get_state(ExportJobState)
        follower._download_when_done = job_id
        return rx.redirect(routes.job_page("EXPORT", job_id))


def export_form() -> rx.Component:
    return form_card(
        field_label("Dataset"),
        dataset_select(ExportFormState.dataset, ExportFormState.choose_dataset),
        field_label("Format"),
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="format-select", aria_label="Format"),
            rx.select.content(
                *(rx.select.item(label, value=value) for value, label in EXPORT_FORMATS)
            ),
            value=ExportFormState.file_format,
            on_change=ExportFormState.choose_format,
        ),
        field_label("Filter (optional)"),
        rx.input(
            placeholder="Only rows containing this text, e.g. acme",
            value=ExportFormState.search,
            on_change=ExportFormState.set_search,
            width="100%",
            max_length=200,
            name="filter",
        ),
        message_callout(ExportFormState.form_error, test_id="form-error"),
        rx.button(
            rx.icon("play", size=16),
            "Start export",
            size="3",
            loading=ExportFormState.starting,
            on_click=ExportFormState.start_export,
        ),
    )


def exports_page() -> rx.Component:
    return page(
        export_form(), heading="Export data", lead="Rows are written to a file you can download."
    )


def export_outcome() -> rx.Component:
    state = ExportJobState
    return rx.cond(
        state.is_completed & (state.download_href != ""),
        rx.hstack(
            rx.link(
                rx.button(rx.icon("download", size=16), f"Download {state.file_name}", size="3"),
                href=state.download_href,
                data_testid="download-link",
            ),
            rx.text(f"{state.row_count} rows", color_scheme="gray", size="2"),
            align="center",
            spacing="4",
        ),
        rx.cond(
            state.is_completed & state.file_deleted,
            rx.callout(
                "This export's file is no longer stored: files are kept for a while after a "
                "job ends. Start the export again for a fresh one.",
                icon="clock",
                color_scheme="gray",
                data_testid="file-deleted",
            ),
        ),
    )


def export_job_page() -> rx.Component:
    return job_page(
        ExportJobState,
        export_outcome(),
        title=ExportJobState.headline,
        heading="Export",
        back_href=routes.EXPORTS,
        back_label="Start another export",
    )
