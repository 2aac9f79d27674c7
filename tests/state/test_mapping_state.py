"""The import form's mapping step without a browser: the table, the Import gate, the
one-column-one-field rule, and which failed imports offer mapping instead of a retry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import reflex as rx

from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.mapping import is_mapping_failure
from jobs_ui.engines.preview import FilePreview
from jobs_ui.jobs.execution import UNEXPECTED_ERROR
from jobs_ui.jobs.import_inputs import Inspection
from jobs_ui.jobs.store import WORKER_LOST_ERROR
from jobs_ui.jobs.uploads import Upload
from jobs_ui.pages.import_job import ImportJobState
from jobs_ui.pages.imports import ImportFormState
from jobs_ui.state.mapping import STEP_MAPPING


def state_of(cls):
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    return root.get_substate(cls.get_full_name().split(".")[1:])


def inspection(columns, rows, suggested, *, remembered=False) -> Inspection:
    upload = Upload(
        id=uuid.uuid4(),
        owner="someone",
        dataset="contacts",
        file_name="crm.csv",
        format="csv",
        path="inspected/x/crm.csv",
        size_bytes=10,
        created_at=datetime.now(UTC),
    )
    preview = FilePreview(
        format=FileFormat.CSV,
        encoding="utf-8",
        delimiter=",",
        sheets=None,
        sheet=None,
        columns=columns,
        sample_rows=rows,
    )
    return Inspection(upload, preview, suggested, [], remembered)


def crm_form():
    form = state_of(ImportFormState)
    form._show_inspection(
        inspection(
            ["Full Name", "E-mail", "Company", "Phone"],
            [["Ada", "ada@example.com", "ACME", None], ["Bo", "bo@example.com", "", "123"]],
            {"name": "Full Name", "email": "E-mail", "company": "Company", "phone": None},
        ),
        "contacts",
    )
    return form


def test_an_inspection_opens_the_mapping_step_with_its_suggestion():
    form = crm_form()
    assert form.step == STEP_MAPPING and form.on_mapping_step
    rows = {row.name: row for row in form.field_rows}
    assert rows["name"].column == "Full Name" and rows["name"].samples == "Ada, Bo"
    assert rows["email"].required and not rows["phone"].required
    assert rows["phone"].column == "" and rows["phone"].samples == ""
    assert form.unmapped_note == "" and not form.remembered


def test_import_waits_for_every_required_field_and_says_which():
    form = crm_form()
    ImportFormState.set_column.fn(form, "email", "")
    assert form.unmapped_required == ["email"]
    assert form.unmapped_note == "Choose a column for the required field email to import."
    assert form.import_blocker == form.unmapped_note


def test_a_column_chosen_twice_holds_the_import_and_unknown_ones_are_ignored():
    form = crm_form()
    ImportFormState.set_column.fn(form, "phone", "Company")
    assert form.mapping["phone"] == "Company" and form.mapping["company"] == "Company"
    assert form.import_blocker == "The column “Company” is chosen for company and phone: pick one."
    ImportFormState.set_column.fn(form, "company", "")
    assert form.import_blocker == ""
    ImportFormState.set_column.fn(form, "phone", "<script>")  # not a column of the file
    ImportFormState.set_column.fn(form, "not_a_field", "Phone")
    assert form.mapping["phone"] == "Company" and "not_a_field" not in form.mapping


def test_back_returns_to_the_file_step():
    form = crm_form()
    ImportFormState.back_to_file.fn(form)
    assert not form.on_mapping_step


def test_only_column_failures_offer_mapping_instead_of_retry():
    assert is_mapping_failure('The file has no column for email. Its columns: "x".')
    assert is_mapping_failure("Choose a column for the required field email: ...")
    assert is_mapping_failure('The mapping maps email to a column "x" that the file ...')
    assert not is_mapping_failure("The file is empty.")
    job = state_of(ImportJobState)
    job.status, job.error = "FAILED", "The file has no column for email."
    assert job.needs_mapping and not job.can_retry
    job.error = WORKER_LOST_ERROR  # the server's failure: running again can help
    assert not job.needs_mapping and job.can_retry
    job.error = UNEXPECTED_ERROR.format(job_id="1b4e")
    assert job.can_retry
    job.error = "The file is empty."  # the file's: the same file fails the same
    assert not job.needs_mapping and not job.can_retry
    job.status = "CANCELLED"
    assert job.can_retry
    job.status = "COMPLETED"
    assert not job.can_retry


def test_the_summary_of_skipped_rows_reads_as_groups():
    job = state_of(ImportJobState)
    job.status = "COMPLETED"
    job.result = {
        "errorSummary": [
            {
                "field": "email",
                "column": "E-mail",
                "message": "email: not a valid email address",
                "count": 2,
                "rows": [3, 5],
                "examples": ["nope", "x@"],
            }
        ],
        "errors": [
            {"row": 3, "field": "email", "column": "E-mail", "value": "nope", "message": "m"}
        ],
    }
    (group,) = job.error_groups
    assert (group.count, group.column, group.rows) == (2, "E-mail", "Rows 3, 5")
    assert group.examples == "“nope”, “x@”"
    assert job.row_errors[0].column == "E-mail" and job.row_errors[0].value == "nope"


def test_skipped_rows_are_counted_in_words():
    from jobs_ui.pages.import_job import rows_label

    assert rows_label([10], 1) == "Row 10"
    assert rows_label([3, 5], 2) == "Rows 3, 5"
    assert rows_label([3, 5], 40) == "First rows 3, 5 (of 40)"


def test_a_completed_import_that_skipped_rows_may_go_back_to_the_mapping():
    job = state_of(ImportJobState)
    job.status, job.result = "COMPLETED", {"importedCount": 0, "skippedCount": 2}
    assert job.may_remap and not job.needs_mapping
    job.result = {"importedCount": 2, "skippedCount": 0}
    assert not job.may_remap
