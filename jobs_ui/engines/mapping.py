"""Which column of a file feeds which field of a dataset.

A mapping is `{field: column header or None}`, every field of the dataset present (None:
not imported). `suggest_mapping` finds one for a file's headers, in three passes, each only
over what earlier passes left: the field's own name, normalised (case, spaces, `_`, `-` and
punctuation ignored, so "E-mail" is email); then the aliases the dataset declares on the
field; then a fuzzy score (rapidfuzz) at or above `FUZZY_THRESHOLD`, best pairs first. One
column never feeds two fields. `checked_mapping` holds a mapping someone chose to the same
rules an import needs, with a sentence naming what is wrong.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz import fuzz

from jobs_ui.datasets import Dataset
from jobs_ui.engines.modes import ImportMode

FieldMapping = dict[str, str | None]

FUZZY_THRESHOLD = 80.0
"""rapidfuzz's `ratio` (0-100) between normalised names: "Emial" -> email is 80, "Phone Nr" ->
"phone no" 86, "Compnay" -> company 86; "Game" -> name only 75."""
FUZZY_MIN_LENGTH = 4
"""Normalised names shorter than this are matched exactly only: two short names share too
few letters for a score to mean anything ("sku" and "sk")."""


class MappingError(ValueError):
    """A mapping an import cannot use; the message names the field or column, for a person."""


def normalise(name: str) -> str:
    """The letters and digits of a name, case-folded: "E-mail Address" -> "emailaddress"."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(char for char in folded if char.isalnum())


def suggest_mapping(columns: Sequence[str], dataset: Dataset) -> FieldMapping:
    """The best mapping of `columns` (a file's headers, in file order) to `dataset`'s fields."""
    mapping: FieldMapping = dict.fromkeys(dataset.columns)
    free = {column: normalise(column) for column in columns}  # file order kept
    free = {column: norm for column, norm in free.items() if norm}
    names = {spec.name: [normalise(spec.name)] for spec in dataset.specs}
    aliases = {spec.name: [normalise(alias) for alias in spec.aliases] for spec in dataset.specs}
    for candidates in (names, aliases):
        for field in dataset.columns:
            if mapping[field] is not None:
                continue
            wanted = set(candidates[field])
            column = next((c for c, norm in free.items() if norm in wanted), None)
            if column is not None:
                mapping[field] = column
                del free[column]
    _match_fuzzily(mapping, free, {f: names[f] + aliases[f] for f in dataset.columns})
    return mapping


def _match_fuzzily(
    mapping: FieldMapping, free: dict[str, str], candidates: Mapping[str, list[str]]
) -> None:
    scored: list[tuple[float, int, int, str, str]] = []
    columns = list(free)
    fields = [field for field, column in mapping.items() if column is None]
    for field_order, field in enumerate(fields):
        wanted = [name for name in candidates[field] if len(name) >= FUZZY_MIN_LENGTH]
        for column_order, column in enumerate(columns):
            norm = free[column]
            if len(norm) < FUZZY_MIN_LENGTH or not wanted:
                continue
            score = max(fuzz.ratio(norm, name) for name in wanted)
            if score >= FUZZY_THRESHOLD:
                # Ties go to the field declared first, then the column found first.
                scored.append((-score, field_order, column_order, field, column))
    taken: set[str] = set()
    for _score, _f, _c, field, column in sorted(scored):
        if mapping[field] is None and column not in taken:
            mapping[field] = column
            taken.add(column)


def required_fields(dataset: Dataset, mode: ImportMode = ImportMode.INSERT) -> tuple[str, ...]:
    """The fields a mode needs a column for: those a new row needs (insert, upsert), and the
    key wherever rows are found by it (upsert, update). An update writes only what is mapped,
    so it needs nothing else."""
    if mode is ImportMode.UPDATE:
        return (dataset.key,)
    needed = dataset.required_columns
    if mode is ImportMode.UPSERT and dataset.key not in needed:
        return (dataset.key, *needed)
    return needed


def missing_required(
    mapping: Mapping[str, str | None], dataset: Dataset, mode: ImportMode = ImportMode.INSERT
) -> list[str]:
    return [name for name in required_fields(dataset, mode) if not mapping.get(name)]


def checked_mapping(
    chosen: Mapping[str, object],
    columns: Iterable[str],
    dataset: Dataset,
    *,
    suggested: bool = False,
    mode: ImportMode = ImportMode.INSERT,
) -> FieldMapping:
    """`chosen` (field -> column, a field left out or null: not imported) as a whole mapping;
    MappingError if it names a field the dataset lacks or a column the file lacks, feeds two
    fields from one column, or leaves a required field without a column. `suggested`: the
    mapping is the one suggested, not one a person chose (the sentence then says so)."""
    known_columns = list(columns)
    unknown = [str(field) for field in chosen if field not in dataset.columns]
    if unknown:
        raise MappingError(
            f"The mapping names {_listed(unknown, 'field')} that {dataset.name} does not have. "
            f"Its fields: {', '.join(dataset.columns)}."
        )
    mapping: FieldMapping = dict.fromkeys(dataset.columns)
    used: dict[str, str] = {}
    for field in dataset.columns:
        column = chosen.get(field)
        if column is None or column == "":
            continue
        if not isinstance(column, str):
            raise MappingError(f"The mapping of {field} must be a column's name or null.")
        if column not in known_columns:
            raise MappingError(
                f'The mapping maps {field} to a column "{_clip(column)}" that the file does not '
                f"have. Its columns: {_quoted(known_columns)}."
            )
        if column in used:
            raise MappingError(
                f'The column "{_clip(column)}" is mapped to both {used[column]} and {field}; '
                "a column can feed one field."
            )
        used[column] = field
        mapping[field] = column
    missing = missing_required(mapping, dataset, mode)
    if missing and suggested:  # nobody chose: say what the file lacks, and how to go on
        raise MappingError(
            f"The file has no column for {', '.join(missing)}. Its columns: "
            f"{_quoted(known_columns)}. Map a column to each required field of "
            f"{dataset.name} ({', '.join(required_fields(dataset, mode))}) and import again."
        )
    if missing:
        raise MappingError(
            f"Choose a column for the required {_listed(missing, 'field')}: the file's "
            f"columns are {_quoted(known_columns)}."
        )
    return mapping


def columns_to_fields(mapping: Mapping[str, str | None]) -> dict[str, str]:
    """The reader's renaming: file header -> field, for the mapped fields."""
    return {column: field for field, column in mapping.items() if column}


def _clip(name: str, length: int = 60) -> str:
    """A header as a sentence quotes it: a runaway one (a whole line) is cut."""
    return name if len(name) <= length else name[:length] + "…"


def _listed(names: Sequence[str], word: str) -> str:
    noun = word if len(names) == 1 else f"{word}s"
    return f"{noun} {', '.join(names)}"


def _quoted(columns: Sequence[str]) -> str:
    shown = ", ".join(f'"{_clip(column)}"' for column in columns[:30])
    return shown + (f" and {len(columns) - 30} more" if len(columns) > 30 else "") or "none"


# How the sentences above that refuse a mapping begin: a failed import saying one of these
# needs its columns mapped, not the same run again.
_MAPPING_FAILURES = ("The file has no column for", "Choose a column for", "The mapping maps")


def is_mapping_failure(error: str) -> bool:
    """Whether a failed import's error says its file's columns did not fit the dataset."""
    return error.startswith(_MAPPING_FAILURES)
