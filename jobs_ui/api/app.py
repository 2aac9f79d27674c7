"""The jobs API as one FastAPI app, mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from jobs_ui.access import log_redaction
from jobs_ui.access.guard import BodyLimits, ReflexUploads, RequestGuard
from jobs_ui.access.origins import TrustedOrigins
from jobs_ui.api import fallback, files, jobs, stream
from jobs_ui.api.errors import install_error_handlers
from jobs_ui.services import Services
from jobs_ui.urls import API_PREFIX, JOBS_API

IMPORT_PATH = f"{JOBS_API}/import"
REFLEX_UPLOAD_PATH = "/_upload"  # Reflex's own upload route, which the import page uses
# Room for the multipart framing and the small fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


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
    install_error_handlers(api)
    # The stream's fixed path /jobs/ws must be matched before /jobs/{job_id}.
    api.include_router(stream.router)
    api.include_router(files.router)
    api.include_router(jobs.router)
    api.include_router(fallback.router)  # last: JSON 404/405 for anything else under the API
    # Only trusted origins are answered (credentials are allowed, so never "*").
    api.add_middleware(
        CORSMiddleware,
        allow_origins=TrustedOrigins(services.origins),
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
    )
    if guarded:
        api.add_middleware(RequestGuard, **guard_options(services))  # added last: outermost
    return api


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
            upload_paths=frozenset({IMPORT_PATH, REFLEX_UPLOAD_PATH}),
            upload_file=settings.max_upload_bytes,
            upload_overhead=MULTIPART_OVERHEAD,
            other=settings.max_json_bytes,
        ),
        "visitors": services.visitors,
        "make_visitors": settings.auth == "optional",
    }
