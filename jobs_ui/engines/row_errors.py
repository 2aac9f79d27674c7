"""Turning validation failures into sentences a person can act on, one problem at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a row is skipped: the field (None: the row as a whole), the sentence a
    person reads, and the offending value as text (None when there is none)."""

    field: str | None
    message: str
    value: str | None = None
    detail: str | None = None
    """This row's own sentence, where it says more than `message` (which groups rows)."""

    @property
    def sentence(self) -> str:
        return self.detail or self.message


@dataclass(frozen=True)
class ProblemGroup:
    """Every skipped row with the same problem: how many, the first rows, example values."""

    field: str | None
    message: str
    count: int
    rows: list[int]
    examples: list[str]


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validation_problems(
    error: ValidationError, model: type[BaseModel], record: Mapping[str, Any]
) -> list[Problem]:
    """One problem per failed field, e.g. "email: not a valid email address" with the value
    the row gave it, or "name is required".

    A value that does not match a field's pattern is "not a valid <description>": the field's
    description names what was expected (a regular expression means nothing to most people).
    """
    problems = []
    for problem in error.errors(include_url=False, include_context=False):
        field = ".".join(str(part) for part in problem["loc"]) or "row"
        top = str(problem["loc"][0]) if problem["loc"] else None
        given = record.get(top) if top is not None else None
        value = None if given is None else str(given)
        if problem["type"] == "missing" or _is_blank(problem.get("input")):
            problems.append(Problem(top, f"{field} is required", None))
        elif problem["type"] == "string_pattern_mismatch":
            info = model.model_fields.get(str(top))
            expected = info.description if info and info.description else f"value for {field}"
            problems.append(Problem(top, f"{field}: not a valid {expected}", value))
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(Problem(top, f"{field}: {message}", value))
    return problems


def describe_problems(problems: list[Problem]) -> str:
    """The row's whole reason, as the error report gives it: "email: ...; name is required"."""
    return "; ".join(problem.message for problem in problems)
