"""What each dataset expects: its fields, and a template file to fill in."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from jobs_ui.api.deps import ActorDep, ServicesDep
from jobs_ui.api.errors import error_responses
from jobs_ui.dataset_schemas import DatasetFieldPublic, DatasetList, DatasetPublic, ExampleValue
from jobs_ui.datasets import Dataset
from jobs_ui.datasets.fields import FieldSpec
from jobs_ui.engines.template import TemplateFormat, template_bytes, template_name
from jobs_ui.schemas import ErrorBody
from jobs_ui.urls import DATASETS_API

router = APIRouter(prefix=DATASETS_API, tags=["datasets"])

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FILE_BODY = {"schema": {"type": "string", "format": "binary"}}
NO_SUCH_DATASET = {"model": ErrorBody, "description": "No dataset has that name."}
NOT_ALLOWED = {
    "model": ErrorBody,
    "description": "Not allowed: an access token only reads its job; the caller may neither "
    "import into nor export this dataset.",
}

DatasetName = Annotated[
    str, Path(description="The dataset's name, as the listing gives it.", max_length=200)
]


def example_value(value: object) -> ExampleValue:
    """An example as JSON has it: a Decimal or a date becomes the text a file would hold."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return str(value)


def field_public(spec: FieldSpec) -> DatasetFieldPublic:
    return DatasetFieldPublic(
        name=spec.name,
        type=spec.type,
        required=spec.required,
        description=spec.description,
        aliases=list(spec.aliases),
        example=example_value(spec.example),
    )


def dataset_public(dataset: Dataset) -> DatasetPublic:
    return DatasetPublic(
        name=dataset.name,
        label=dataset.label,
        key=dataset.key,
        fields=[field_public(spec) for spec in dataset.specs],
    )


# The same caller may be told different datasets from one day to the next (the authorize
# hook decides): no shared cache may keep either answer.
PRIVATE = {"Cache-Control": "private, no-store"}


@router.get(
    "",
    response_model=DatasetList,
    responses={**error_responses(), 403: NOT_ALLOWED},
)
@router.get("/", response_model=DatasetList, include_in_schema=False)
def list_datasets(services: ServicesDep, principal: ActorDep, response: Response) -> DatasetList:
    """The datasets the caller may import into or export, each with its fields in column
    order (what an import file's columns should be)."""
    datasets = services.commands.visible_datasets(principal)
    response.headers.update(PRIVATE)
    return DatasetList(datasets=[dataset_public(dataset) for dataset in datasets])


@router.get(
    "/{name}/template",
    response_class=Response,
    responses={
        200: {
            "description": "The template, as an attachment: a header row of the field names "
            "and a row of examples.",
            "content": {media_type.split(";")[0]: FILE_BODY for media_type in MEDIA_TYPES.values()},
        },
        **error_responses(422),
        403: NOT_ALLOWED,
        404: NO_SUCH_DATASET,
    },
)
def download_template(
    name: DatasetName,
    services: ServicesDep,
    principal: ActorDep,
    file_format: Annotated[
        TemplateFormat, Query(alias="format", description="csv (the default) or xlsx.")
    ] = "csv",
) -> Response:
    """A file to fill in and import: it imports with no mapping."""
    dataset = services.commands.dataset_for(principal, name)
    filename = template_name(dataset, file_format)
    return Response(
        template_bytes(dataset, file_format),
        media_type=MEDIA_TYPES[file_format],
        headers={**PRIVATE, "Content-Disposition": attachment(filename)},
    )


def attachment(filename: str) -> str:
    """A Content-Disposition naming the file, also when the name is not plain ASCII."""
    if filename.isascii() and filename.isprintable() and '"' not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quote(filename)}"
