"""Turning validation failures into sentences a person can act on."""

from __future__ import annotations

from pydantic import ValidationError


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, e.g. "email: not a valid email address; name is required"."""
    parts = []
    for problem in error.errors(include_url=False, include_context=False):
        field = ".".join(str(part) for part in problem["loc"]) or "row"
        if problem["type"] == "missing" or _is_blank(problem.get("input")):
            parts.append(f"{field} is required")
            continue
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)
