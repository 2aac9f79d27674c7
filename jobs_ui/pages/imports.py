"""/imports: choose a dataset and a file, then map its columns (jobs_ui/state/mapping.py).

The form is built from its state class, so a developer's page for one dataset
(`jobs_ui.pages.extra.add_import_page`) is the same form with its own state. The job's own
page is jobs_ui/pages/import_job.py.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.dataset_fields import DatasetGuide, expected_fields, guide_for
from jobs_ui.components.form import (
    dataset_select,
    field_label,
    first_dataset,
    form_card,
    message_callout,
)
from jobs_ui.components.layout import page
from jobs_ui.components.mapping_step import mapping_step
from jobs_ui.jobs.commands import CommandError
from jobs_ui.state.backend import (
    check_own_upload,
    commands,
    principal_of,
    run_command,
)
from jobs_ui.state.mapping import MappingStep

UPLOAD_ID = "import_file"
ACCEPTED_FILES = {
    "text/csv": [".csv", ".tsv", ".txt"],
    "application/x-ndjson": [".jsonl", ".ndjson"],
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
}


class ImportForm(MappingStep, mixin=True):
    """The import form's state; each concrete form state keeps its own copy of the vars.
    Step 1 sends and inspects the file; step 2 (MappingStep) maps its columns and imports."""

    dataset: str = first_dataset()
    upload_progress: int = 0
    uploading: bool = False
    form_error: str = ""

    @rx.event
    def choose_dataset(self, dataset: str) -> None:
        self.dataset = dataset

    @rx.var(deps=["dataset"], auto_deps=False)
    def dataset_guide(self) -> DatasetGuide:
        """The fields the chosen dataset expects, and its template's links."""
        return guide_for(self._dataset_to_import())

    @rx.event
    def begin_upload(self) -> None:
        self.uploading, self.upload_progress, self.form_error = True, 0, ""

    @rx.event
    def track_upload(self, progress: dict[str, Any]) -> None:
        """The browser's upload progress, 0 to 1; anything else a tab sends is ignored."""
        fraction = progress.get("progress") if isinstance(progress, dict) else None
        if isinstance(fraction, int | float) and 0 <= fraction <= 1:
            self.upload_progress = round(fraction * 100)

    @rx.event
    async def submit_file(self, files: list[rx.UploadFile]) -> Any:
        """Keep and inspect the uploaded file (in-process, the same command the API runs),
        then show its columns and the suggested mapping (step 2)."""
        try:
            if not files:
                self.form_error = "Choose a file to import."
                return None
            upload = files[0]
            try:
                principal = await principal_of(self)
                check_own_upload(self, principal)
                dataset = self._dataset_to_import()
                inspection = await run_command(
                    commands().inspect,
                    principal,
                    dataset=dataset,
                    filename=upload.filename or "upload.csv",
                    source=upload.file,
                )
            except CommandError as error:
                self.form_error = error.message
                return None
            self._show_inspection(inspection, dataset)
            return rx.clear_selected_files(UPLOAD_ID)
        finally:
            self.uploading = False

    def _dataset_to_import(self) -> str:
        """The dataset the upload goes into."""
        return self.dataset

    def _job_href(self, job_id: str) -> str:
        """Where the new job is watched."""
        return routes.job_page("IMPORT", job_id)

    def _set_dataset(self, dataset: str) -> None:
        self.dataset = dataset

    def _set_form_error(self, message: str) -> None:
        self.form_error = message


class ImportFormState(ImportForm, rx.State):
    """The form of /imports."""


def file_drop_zone() -> rx.Component:
    zone = rx.upload(
        rx.vstack(
            rx.icon("upload", size=28, color="var(--accent-9)"),
            rx.text("Drop a file here, or click to choose one", weight="medium"),
            rx.text("CSV, TSV, JSON Lines or Excel (.xlsx)", size="1", color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=False,
        max_files=1,
        accept=ACCEPTED_FILES,
        border="1px dashed var(--gray-a7)",
        border_radius="var(--radius-3)",
        padding="2rem",
        width="100%",
        cursor="pointer",
    )
    return labelled_file_input(zone, "File to import")


def labelled_file_input(zone: rx.Component, label: str) -> rx.Component:
    """Name the drop zone's file input: rx.upload makes it with no props of its own, so a
    screen reader would announce an unnamed "file upload" control."""
    for child in zone.children:
        if not isinstance(child, rx.Component):
            continue
        if child.tag == "input":
            child.custom_attrs["aria-label"] = label
        else:
            labelled_file_input(child, label)
    return zone


def upload_progress(form: type[ImportForm]) -> rx.Component:
    return rx.cond(
        form.uploading,
        rx.vstack(
            rx.progress(
                value=form.upload_progress, max=100, width="100%", aria_label="Upload progress"
            ),
            rx.text(
                f"Uploading… {form.upload_progress}%",
                size="1",
                color_scheme="gray",
                data_testid="upload-progress",
            ),
            width="100%",
        ),
    )


def import_form(
    form: type[ImportForm] = ImportFormState, *, pick_dataset: bool = True
) -> rx.Component:
    """The upload form; `pick_dataset=False` for a page of one dataset."""
    # Any: mypy reads handlers made by rx.event (whose __new__ returns a callback) as
    # instances of rx.event's class, and calling one as an error.
    events: Any = form
    selected = rx.selected_files(UPLOAD_ID)
    dataset_fields = (
        (field_label("Dataset"), dataset_select(form.dataset, form.choose_dataset))
        if pick_dataset
        else ()
    )
    file_step = form_card(
        *dataset_fields,
        expected_fields(form.dataset_guide),
        field_label("File"),
        file_drop_zone(),
        rx.foreach(
            selected,
            lambda name: rx.hstack(
                rx.icon("file", size=16), rx.text(name, size="2"), align="center"
            ),
        ),
        upload_progress(form),
        message_callout(form.form_error, test_id="form-error"),
        rx.button(
            rx.icon("arrow_right", size=16),
            "Next: map columns",
            size="3",
            disabled=(selected.length() == 0) | form.uploading,
            loading=form.uploading,
            on_click=[
                form.begin_upload,
                events.submit_file(
                    rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=events.track_upload)
                ),
            ],
            data_testid="inspect-button",
        ),
    )
    return rx.box(
        rx.cond(form.on_mapping_step, mapping_step(form), file_step),
        on_mount=events.open_from_job,  # `?from=<job_id>`: map that import's file
        width="100%",
    )


def imports_page() -> rx.Component:
    return page(
        import_form(),
        heading="Import data",
        lead="Every row is checked: bad ones are skipped and listed, good ones saved together.",
    )
