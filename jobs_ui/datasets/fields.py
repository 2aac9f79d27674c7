"""The base of every dataset's fields model, and what a field tells a person about itself.

A field can declare, beside its type and constraints, the other names files give its column
(`aliases`, used to match a file's headers) and an example value (shown on the import form
and written in the template). Both go through `about(...)`:

    name: str = Field(min_length=1, schema_extra=about(aliases=("full name",), example="Ada"))
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Union, get_args, get_origin

from pydantic import ConfigDict
from pydantic.fields import FieldInfo
from sqlmodel import SQLModel

ALIASES_KEY = "aliases"


class RowFields(SQLModel):
    """Shared validation settings for imported rows."""

    # Spreadsheets and JSON hand over phone numbers and SKUs as numbers: take them as text.
    # (SQLModel types model_config as its own TypedDict, a superset of pydantic's ConfigDict.)
    model_config = ConfigDict(str_strip_whitespace=True, coerce_numbers_to_str=True)  # type: ignore[assignment]


def about(*, aliases: Sequence[str] = (), example: object = None) -> dict[str, Any]:
    """A field's `schema_extra`: the other names of its column and an example value. Both
    reach the field's JSON schema too (`aliases`, `examples`)."""
    extra: dict[str, Any] = {"json_schema_extra": {ALIASES_KEY: list(aliases)}}
    if example is not None:
        extra["examples"] = [example]
    return extra


@dataclass(frozen=True)
class FieldSpec:
    """One field of a dataset, as the import form, the template and the API describe it."""

    name: str
    type: str
    required: bool
    description: str | None
    aliases: tuple[str, ...]
    example: object


# The plain type of a field, in words a person reading the form knows.
_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is an int
    (int, "integer"),
    (Decimal, "decimal"),
    (float, "number"),
    (dt.datetime, "datetime"),  # before date: datetime is a date
    (dt.date, "date"),
    (str, "text"),
)


def field_specs(model: type[SQLModel], columns: Sequence[str]) -> tuple[FieldSpec, ...]:
    """The specs of `columns` of a fields model, in that order."""
    return tuple(_spec(name, model.model_fields[name]) for name in columns)


def _spec(name: str, info: FieldInfo) -> FieldSpec:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    aliases = extra.get(ALIASES_KEY) or ()
    examples = info.examples or []
    return FieldSpec(
        name=name,
        type=_type_name(info.annotation),
        required=info.is_required(),
        description=info.description,
        aliases=tuple(str(alias) for alias in aliases),  # type: ignore[union-attr]
        example=examples[0] if examples else None,
    )


def _type_name(annotation: object) -> str:
    plain = _without_none(annotation)
    if isinstance(plain, type):
        for kind, word in _TYPE_NAMES:
            if issubclass(plain, kind):
                return word
    return "text"


def _without_none(annotation: object) -> object:
    """`X | None` -> X; `Annotated[X, ...]` arrives already unwrapped by pydantic."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation
