"""The jobs API as one FastAPI app, served beside the Reflex app (jobs_ui.api.beside_reflex)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from jobs_ui.access import log_redaction
from jobs_ui.access.guard import BodyLimits, ReflexUploads, RequestGuard
from jobs_ui.access.origins import TrustedOrigins
from jobs_ui.api import fallback, files, fixes, jobs, stream, webhooks
from jobs_ui.api.allowed import MethodTable
from jobs_ui.api.datasets import router as datasets_router
from jobs_ui.api.errors import install_error_handlers
from jobs_ui.api.jobs import IMPORT_FORM, INSPECT_FORM
from jobs_ui.datasets import registry
from jobs_ui.engines.modes import ImportMode
from jobs_ui.services import Services
from jobs_ui.urls import API_PREFIX, JOBS_API

IMPORT_PATH = f"{JOBS_API}/import"
INSPECT_PATH = f"{JOBS_API}/inspect"
REFLEX_UPLOAD_PATH = "/_upload"  # Reflex's own upload route, which the import page uses
# Room for the multipart framing and the small fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
FIXED_ROWS_BYTES = 8 * 1024 * 1024  # 10,000 fixed rows of a few hundred bytes each, and room


def create_api(services: Services, *, guarded: bool = True) -> FastAPI:
    """A fresh app per call (tests build one each). Its lifespan starts the services when it
    runs on its own; inside Reflex the same lifespan is registered with the Reflex app.

    `guarded`: the request guard stands in front of it all (CORS included). Inside Reflex
    the guard is put in front of the whole Reflex app instead (see jobs_ui/jobs_ui.py), so
    it covers Reflex's own routes and CORS layers too."""
    log_redaction.install()  # URLs carrying access tokens are logged by servers and clients
    settings = services.settings
    docs = settings.api_docs
    api = FastAPI(
        title="jobs_ui import/export API",
        lifespan=services.lifespan,
        docs_url=f"{API_PREFIX}/docs" if docs else None,
        openapi_url=f"{API_PREFIX}/openapi.json" if docs else None,
        redoc_url=None,
    )
    api.state.services = services
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]  # FastAPI's documented hook
    install_error_handlers(api)
    # The stream's fixed path /jobs/ws must be matched before /jobs/{job_id}.
    api.include_router(stream.router)
    api.include_router(files.router)
    api.include_router(jobs.router)
    api.include_router(fixes.router)
    api.include_router(datasets_router)
    api.include_router(webhooks.router)
    fallback.add_fallback(api)  # last: JSON 404/405 for anything else under the API
    # What the 405s say is allowed: the docs' routes and ours (never the fallback's).
    api.state.method_table = MethodTable.of(
        [
            *api.router.routes,
            *stream.router.routes,
            *files.router.routes,
            *jobs.router.routes,
            *fixes.router.routes,
            *datasets_router.routes,
            *webhooks.router.routes,
        ]
    )
    # Only trusted origins are answered (credentials are allowed, so never "*").
    api.add_middleware(
        CORSMiddleware,
        allow_origins=TrustedOrigins(services.origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
    )
    if guarded:
        api.add_middleware(RequestGuard, **guard_options(services))  # added last: outermost
    return api


def _openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, made true where FastAPI cannot know: the datasets there are (now,
    registered at start-up), the import's form, and no `HTTPValidationError`: our handler
    answers every validation error as ErrorBody (each route declares its 422 if it has one)."""
    if api.openapi_schema is not None:
        return api.openapi_schema
    document = get_openapi(
        title=api.title, version=api.version, routes=api.routes, servers=api.servers
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    datasets = registry.names()
    max_bytes = api.state.services.settings.max_upload_bytes
    schemas[IMPORT_FORM] = _upload_form(IMPORT_FORM, datasets, max_bytes, importing=True)
    schemas[INSPECT_FORM] = _upload_form(INSPECT_FORM, datasets, max_bytes, importing=False)
    export = schemas.get("ExportRequest", {}).get("properties", {}).get("dataset")
    if export is not None:
        export["enum"] = datasets
    for operations in document.get("paths", {}).values():  # /datasets/{name}/...: the names
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "name":
                    parameter["schema"]["enum"] = datasets
    api.openapi_schema = document
    return document


def _upload_form(
    title: str, datasets: list[str], max_bytes: int, *, importing: bool
) -> dict[str, Any]:
    """The multipart body of /import and /inspect: a file, or the uploadId of one inspected."""
    properties: dict[str, Any] = {
        "file": {
            "type": "string",
            "format": "binary",
            "minLength": 1,  # an empty file is refused (400)
            "description": "The file: .csv, .tsv, .txt, .jsonl or .xlsx, told apart by the "
            f"extension of its file name; at most {max_bytes:,} bytes (else 413).",
        },
        "uploadId": {
            "type": "string",
            "format": "uuid",
            "description": "Instead of file: the uploadId /inspect answered (kept 24 hours).",
        },
        "dataset": {"type": "string", "enum": datasets, "description": "Where to import."},
        "sheet": {"type": "string", "description": "A workbook's sheet (default: the first)."},
    }
    if importing:
        properties["mapping"] = {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "A JSON object field -> column header (a field left out or null "
            "is not imported). Default: the mapping /inspect suggests.",
        }
        properties["mode"] = {
            "type": "string",
            "enum": [mode.value for mode in ImportMode],
            "default": ImportMode.INSERT.value,
            "description": "insert: add new keys, skip existing ones; upsert: add new keys and "
            "update existing rows; update: update existing rows, skip unknown keys.",
        }
        properties["dryRun"] = {
            "type": "string",
            "enum": ["true", "false"],
            "default": "false",
            "description": "true: check the whole file and compare it with the table, writing "
            "nothing; then POST /jobs/{jobId}/commit imports it.",
        }
    return {
        "title": title,
        "type": "object",
        "required": ["dataset"],
        # A file sent now, or one inspected before: exactly one of the two.
        "oneOf": [{"required": ["file"]}, {"required": ["uploadId"]}],
        "properties": properties,
    }


def guarded(app: ASGIApp, services: Services) -> ASGIApp:
    """`app` behind the request guard."""
    return RequestGuard(app, **guard_options(services))


def guard_options(services: Services) -> dict[str, Any]:
    settings = services.settings
    uploads = ReflexUploads(
        path=REFLEX_UPLOAD_PATH,
        takes_files=services.upload_handlers,
        identity=services.identity,
        callers=services.upload_callers,
    )
    return {
        "uploads": uploads,
        "api_prefix": f"{API_PREFIX}/",
        "origins": services.origins,
        "limits": BodyLimits(
            upload_paths=frozenset({IMPORT_PATH, INSPECT_PATH, REFLEX_UPLOAD_PATH}),
            upload_file=settings.max_upload_bytes,
            upload_overhead=MULTIPART_OVERHEAD,
            other=settings.max_json_bytes,
            rows_suffixes=fixes.ROWS_SUFFIXES,
            rows=FIXED_ROWS_BYTES,
        ),
        "visitors": services.visitors,
        "make_visitors": settings.auth == "optional",
    }
