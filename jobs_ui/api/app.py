"""The jobs API as one FastAPI app, mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from fastapi import FastAPI

from jobs_ui.api import fallback, files, jobs, stream
from jobs_ui.api.errors import install_error_handlers
from jobs_ui.services import Services


def create_api(services: Services) -> FastAPI:
    """A fresh app per call (tests build one each). Its lifespan starts the services when it
    runs on its own; inside Reflex the same lifespan is registered with the Reflex app."""
    api = FastAPI(
        title="jobs_ui import/export API",
        lifespan=services.lifespan,
        docs_url="/api/import-export/docs",
        openapi_url="/api/import-export/openapi.json",
        redoc_url=None,
    )
    api.state.services = services
    install_error_handlers(api)
    # The stream's fixed path /jobs/ws must be matched before /jobs/{job_id}.
    api.include_router(stream.router)
    api.include_router(files.router)
    api.include_router(jobs.router)
    api.include_router(fallback.router)  # last: JSON 404/405 for anything else under the API
    return api
