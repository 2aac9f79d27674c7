"""/imports/[job_id]/fix: the rows an import skipped, in a grid to fix and import.

The state holds one page of rows (50) and the rows the person edited, never the whole
report: the server pages through its stored rows to fix. Each edited cell is checked on
the server as the person leaves it, with the other edited rows (so two fixed rows with one
key are caught), and "Import fixed rows" starts a new import of the edited rows alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.fix_grid import fix_grid_view
from jobs_ui.engines.row_errors import Problem
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.commands.fixes import MAX_PAGE_ROWS
from jobs_ui.models import JobKind
from jobs_ui.state.backend import commands, principal_of, run_command
from jobs_ui.state.job_status import job_uuid

PAGE_ROWS = 50
ALL_REASONS = "all"  # the filter's value for every row (a select item may not be empty)


@dataclasses.dataclass
class GridCell:
    row: int
    field: str
    value: str
    error: str
    key: str  # remounts the input when its row's value comes from elsewhere


@dataclasses.dataclass
class GridRow:
    row: int
    cells: list[GridCell]
    row_error: str  # a problem of the row as a whole
    fixed: bool  # edited, and the last check found nothing wrong
    edited: bool


@dataclasses.dataclass
class ReasonChoice:
    message: str
    label: str


class FixRows(rx.State, mixin=True):
    """One import's skipped rows, a page at a time, with the person's edits."""

    job_id: str = ""
    heading: str = "Fix skipped rows"
    fields: list[str] = []
    rows: list[GridRow] = []
    total: int = 0  # rows of the chosen reason (or all)
    skipped: int = 0  # every row the import skipped
    offset: int = 0
    reason: str = ALL_REASONS
    reasons: list[ReasonChoice] = []
    load_error: str = ""
    action_error: str = ""
    importing: bool = False
    loaded: bool = False
    edited: int = 0  # rows the person changed
    fixed: int = 0  # of those, the ones the last check found nothing wrong with
    # Backend only: the page as stored, the edits (row -> field -> text) and the last
    # check of each edited row (row -> its problems as (field, sentence)).
    _page: list[dict[str, Any]] = []
    _edits: dict[int, dict[str, str]] = {}
    _checks: dict[int, list[tuple[str | None, str]]] = {}
    _mode_note: str = ""

    def _job_href(self, job_id: str) -> str:
        """The page of an import (this page's own and the fixed rows' new one)."""
        return routes.job_page(JobKind.IMPORT.value, job_id)

    @rx.var
    def still_wrong(self) -> int:
        return max(self.skipped - self.fixed, 0)

    @rx.var
    def still_wrong_text(self) -> str:
        wrong = self.still_wrong
        if wrong == 0:
            return "Every skipped row is fixed."
        return f"{wrong:,} of {self.skipped:,} rows still wrong"

    @rx.var
    def range_text(self) -> str:
        if not self.total:
            return "No rows"
        last = min(self.offset + PAGE_ROWS, self.total)
        return f"Rows {self.offset + 1:,} to {last:,} of {self.total:,}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_ROWS < self.total

    @rx.var
    def import_label(self) -> str:
        count = self.edited
        return (
            f"Import {count:,} edited row{'' if count == 1 else 's'}"
            if count
            else "Import fixed rows"
        )

    @rx.var
    def can_import(self) -> bool:
        return self.edited > 0 and not self.importing

    @rx.var
    def back_href(self) -> str:
        return self._job_href(self.job_id) if self.job_id else routes.IMPORTS

    # --- loading -----------------------------------------------------------------------

    @rx.event
    async def open_grid(self) -> None:
        """`on_load`: the job id is the route's segment before /fix."""
        parts = self.router.url.path.rstrip("/").split("/")
        job_id = parts[-2] if len(parts) >= 2 else ""
        if job_id != self.job_id:
            self.job_id, self.loaded, self.rows = job_id, False, []
            self._forget_edits()
            self.offset, self.reason = 0, ALL_REASONS
        self.action_error = ""
        await self._load(with_reasons=True)

    @rx.event
    async def next_page(self) -> None:
        self.offset += PAGE_ROWS
        await self._load()

    @rx.event
    async def previous_page(self) -> None:
        self.offset = max(self.offset - PAGE_ROWS, 0)
        await self._load()

    @rx.event
    async def filter_by(self, reason: str) -> None:
        self.reason, self.offset = reason or ALL_REASONS, 0
        await self._load()

    async def _load(self, *, with_reasons: bool = False) -> None:
        try:
            principal = await principal_of(self)
            job_id = job_uuid(self.job_id)
            reason = None if self.reason == ALL_REASONS else self.reason
            fields, page = await run_command(
                commands().rejected_rows,
                principal,
                job_id,
                offset=self.offset,
                limit=PAGE_ROWS,
                reason=reason,
            )
            if with_reasons:
                found = await run_command(commands().rejected_reasons, principal, job_id)
                self.reasons = [
                    ReasonChoice(message, f"{message} ({count:,})") for message, count in found
                ]
                job = await run_command(commands().visible_job, principal, job_id)
                self.skipped = int((job.result or {}).get("skippedCount") or 0)
                name = job.params.get("fileName")
                self.heading = f"Fix the skipped rows of {name}" if name else "Fix skipped rows"
        except CommandError as error:
            self.load_error, self.loaded = error.message, True
            self.rows = []
            return
        self.load_error, self.loaded = "", True
        self.fields, self.total = fields, page.total
        self._page = [dataclasses.asdict(row) for row in page.rows]
        self._show()

    def _show(self) -> None:
        """The page's rows as the grid shows them: edits over the stored values, and the
        last check's problems where the row was checked, else the import's."""
        shown = []
        for stored in self._page:
            number = int(stored["row"])
            edits = self._edits.get(number, {})
            checked = self._checks.get(number)
            problems = (
                checked
                if checked is not None
                else [(error["field"], error["message"]) for error in stored["errors"]]
            )
            by_field: dict[str, list[str]] = {}
            whole_row = []
            for field, sentence in problems:
                if field in self.fields:
                    by_field.setdefault(field, []).append(sentence)
                else:
                    whole_row.append(sentence)
            version = len(edits)
            cells = [
                GridCell(
                    row=number,
                    field=name,
                    value=edits.get(name, stored["values"].get(name) or ""),
                    error="; ".join(by_field.get(name, [])),
                    key=f"{self.job_id}:{number}:{name}:{version}",
                )
                for name in self.fields
            ]
            shown.append(
                GridRow(
                    row=number,
                    cells=cells,
                    row_error="; ".join(whole_row),
                    fixed=checked is not None and not checked,
                    edited=number in self._edits,
                )
            )
        self.rows = shown

    # --- editing -----------------------------------------------------------------------

    @rx.event
    async def cell_left(self, row: int, field: str, value: str) -> None:
        """A cell lost focus: keep its text if it changed, and check the edited rows."""
        stored = next((item for item in self._page if int(item["row"]) == row), None)
        if stored is None or field not in self.fields:
            return
        current = self._edits.get(row, {}).get(field, stored["values"].get(field) or "")
        if value == current:
            return
        self._edits = {**self._edits, row: {**self._edits.get(row, {}), field: value}}
        self.edited = len(self._edits)
        await self._check(row)

    async def _check(self, row: int) -> None:
        # This row first, then the other edited ones (a page's worth): their keys count.
        others = [number for number in sorted(self._edits) if number != row]
        numbers = [row, *others[: MAX_PAGE_ROWS - 1]]
        try:
            principal = await principal_of(self)
            found = await run_command(
                commands().check_fixed_rows,
                principal,
                job_uuid(self.job_id),
                [(number, self._edits[number]) for number in numbers],
            )
        except CommandError as error:
            self.action_error = error.message
            return
        self.action_error = ""
        self._checks = {**self._checks, **{n: _pairs(p) for n, p in found.items()}}
        self.edited = len(self._edits)
        self.fixed = sum(1 for number in self._edits if not self._checks.get(number, [None]))
        self._show()

    def _forget_edits(self) -> None:
        self._edits, self._checks = {}, {}
        self.edited = self.fixed = 0

    @rx.event
    async def import_fixed(self) -> Any:
        """Import the edited rows as a new job, and go and watch it."""
        if not self._edits or self.importing:
            return None
        self.importing, self.action_error = True, ""
        try:
            principal = await principal_of(self)
            created = await run_command(
                commands().import_fixed_rows,
                principal,
                job_uuid(self.job_id),
                sorted(self._edits.items()),
            )
        except CommandError as error:
            self.action_error = error.message
            return None
        finally:
            self.importing = False
        self._forget_edits()
        return rx.redirect(self._job_href(str(created.job.id)))


def _pairs(problems: list[Problem]) -> list[tuple[str | None, str]]:
    return [(each.field, each.sentence) for each in problems]


class FixRowsState(FixRows, rx.State):
    """The grid of /imports/[job_id]/fix."""


def fix_rows_page(state: type[FixRows] = FixRowsState) -> rx.Component:
    return fix_grid_view(state)
