"""Turning validation failures into sentences a person can act on."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def describe_validation_error(error: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem, e.g. "email: not a valid email address; name is required".

    A value that does not match a field's pattern is "not a valid <description>": the field's
    description names what was expected (a regular expression means nothing to most people).
    """
    parts = []
    for problem in error.errors(include_url=False, include_context=False):
        field = ".".join(str(part) for part in problem["loc"]) or "row"
        if problem["type"] == "missing" or _is_blank(problem.get("input")):
            parts.append(f"{field} is required")
        elif problem["type"] == "string_pattern_mismatch":
            info = model.model_fields.get(str(problem["loc"][0]))
            expected = info.description if info and info.description else f"value for {field}"
            parts.append(f"{field}: not a valid {expected}")
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            parts.append(f"{field}: {message}")
    return "; ".join(parts)
