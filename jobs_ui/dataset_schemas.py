"""The public shapes of the datasets API: what each dataset expects, field by field.

Pure pydantic, like `jobs_ui.schemas` (whose camelCase `Schema` base it shares), so a
client can read the listing without the server's dependencies.
"""

from __future__ import annotations

from pydantic import Field

from jobs_ui.schemas import Schema

__all__ = ["DatasetFieldPublic", "DatasetList", "DatasetPublic", "ExampleValue"]

# bool before int: pydantic would otherwise be free to read True as 1.
ExampleValue = str | bool | int | float | None


class DatasetFieldPublic(Schema):
    """One field (one column of an import file), as the form and the template show it."""

    name: str = Field(description="The column's name; a template's header row uses it.")
    type: str = Field(
        description="The kind of value: text, integer, decimal, number, boolean, date or datetime."
    )
    required: bool = Field(description="Whether every row must have a value here.")
    description: str | None = Field(description="What the field holds, for a person.")
    aliases: list[str] = Field(
        description="Other column names that are matched to this field on import."
    )
    example: ExampleValue = Field(description="A value the field takes (the template's row).")


class DatasetPublic(Schema):
    name: str = Field(description="The dataset's name, as imports and exports take it.")
    label: str = Field(description="The dataset's name for people.")
    key: str = Field(
        description="The field that is unique: a row with a key already stored "
        "is skipped on import."
    )
    fields: list[DatasetFieldPublic] = Field(description="The fields, in column order.")


class DatasetList(Schema):
    """The datasets the caller may import into or export."""

    datasets: list[DatasetPublic]
