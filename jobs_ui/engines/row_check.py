"""Check rows a person edited as the import would: for the grid that fixes skipped rows.

The same steps as phase 1 and phase 2 of an import, for a few hundred rows at once and
answered at once: the cell rules of `records`, the dataset's fields model (an update
checks only the mapped fields), then the key: against the other rows checked together,
against the rows of the file a dry run kept (its commit would save them too), and against
the table by the mode (insert: the key must be new; update: it must be there).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select

from jobs_ui.datasets import Dataset
from jobs_ui.engines.formats import RawRow
from jobs_ui.engines.mapping import FieldMapping
from jobs_ui.engines.modes import ImportMode, held_key, repeated_key, unknown_key
from jobs_ui.engines.records import records
from jobs_ui.engines.row_errors import Problem, validation_problems
from jobs_ui.engines.staging import sql_quote

EditedRow = tuple[int, Mapping[str, str | None]]  # (row number in the file, field -> text)


def check_rows(
    engine: Engine,
    dataset: Dataset,
    rows: Sequence[EditedRow],
    *,
    mode: ImportMode,
    mapping: FieldMapping,
    checked: Path | None = None,
) -> dict[int, list[Problem]]:
    """Each row's problems (none: it would be imported), by row number. `checked`: the
    rows a dry run kept, whose keys the edited rows must not repeat."""
    problems, keys = _checked_cells(dataset, rows, mode=mode, mapping=mapping)
    _check_repeats(dataset, keys, problems, checked)
    _check_table(engine, dataset, keys, problems, mode)
    return problems


def kept_row_conflicts(
    dataset: Dataset,
    rows: Sequence[EditedRow],
    *,
    mode: ImportMode,
    mapping: FieldMapping,
    checked: Path,
) -> dict[int, int]:
    """Edited row -> the row a dry run kept with the same key (its commit imports that one,
    so the edited row must not go in before it)."""
    _problems, keys = _checked_cells(dataset, rows, mode=mode, mapping=mapping)
    kept = _kept_rows_with(checked, dataset.key, list(keys.values()))
    return {number: kept[key] for number, key in keys.items() if key in kept}


def _checked_cells(
    dataset: Dataset, rows: Sequence[EditedRow], *, mode: ImportMode, mapping: FieldMapping
) -> tuple[dict[int, list[Problem]], dict[int, Any]]:
    """Each row's cell problems by the fields model, and the valid rows' keys."""
    left_out = frozenset(
        name
        for name in dataset.columns
        if mode is ImportMode.UPDATE and not mapping.get(name) and name != dataset.key
    )
    model = dataset.row_model_leaving_out(left_out)
    validate = model.__pydantic_validator__.validate_python
    problems: dict[int, list[Problem]] = {}
    keys: dict[int, Any] = {}  # the valid rows' keys, as the model made them
    for number, values in sorted(rows, key=lambda row: row[0]):
        raw = RawRow(number, {name: text for name, text in values.items() if text})
        (record,) = records([raw], all_text=True)
        if raw.problem:
            problems[number] = [Problem(None, raw.problem)]
            continue
        try:
            valid = validate({k: v for k, v in record.items() if k not in left_out})
        except ValidationError as error:
            problems[number] = validation_problems(error, model, record)
            continue
        problems[number] = []
        keys[number] = getattr(valid, dataset.key)
    return problems, keys


def _check_repeats(
    dataset: Dataset,
    keys: dict[int, Any],
    problems: dict[int, list[Problem]],
    checked: Path | None,
) -> None:
    """A key an earlier edited row, or a row the dry run kept, has already."""
    reason = repeated_key(dataset)
    first: dict[Any, int] = _kept_rows_with(checked, dataset.key, list(keys.values()))
    for number in sorted(keys):
        key = keys[number]
        earlier = first.get(key)
        if earlier is not None and earlier != number:
            problems[number].append(
                Problem(dataset.key, reason.problem, str(key), reason.sentence(str(earlier)))
            )
            del keys[number]  # counted once: not looked for in the table too
        else:
            first.setdefault(key, number)


def _kept_rows_with(checked: Path | None, key: str, values: list[Any]) -> dict[Any, int]:
    """Key -> the first row of the dry run's kept rows that has it, for these keys."""
    if checked is None or not values or not checked.is_file():
        return {}
    texts = {str(value): value for value in values}
    marks = ", ".join("?" * len(texts))
    column = '"' + key.replace('"', '""') + '"'
    with contextlib.closing(
        sqlite3.connect(f"{checked.resolve().as_uri()}?mode=ro", uri=True)
    ) as kept:
        found = kept.execute(
            f"SELECT CAST({column} AS TEXT), min(_row_no) FROM staged "
            f"WHERE CAST({column} AS TEXT) IN ({marks}) GROUP BY 1",
            tuple(texts),
        ).fetchall()
    return {texts[text]: int(row) for text, row in found}


def _check_table(
    engine: Engine,
    dataset: Dataset,
    keys: dict[int, Any],
    problems: dict[int, list[Problem]],
    mode: ImportMode,
) -> None:
    if mode is ImportMode.UPSERT or not keys:
        return
    column = dataset.sql_table.c[dataset.key]
    with engine.connect() as connection:
        held = set(
            connection.execute(select(column).where(column.in_(set(keys.values())))).scalars()
        )
    reason = held_key(dataset) if mode is ImportMode.INSERT else unknown_key(dataset)
    for number, key in keys.items():
        if (key in held) == (mode is ImportMode.INSERT):
            sentence = reason.sentence(sql_quote(key))
            problems[number].append(Problem(dataset.key, reason.problem, str(key), sentence))
