"""The Reflex app: its pages, plus the jobs API beside Reflex's own routes."""

from __future__ import annotations

import logging

import reflex as rx
from starlette.types import ASGIApp

from jobs_ui import routes
from jobs_ui.api.app import create_api, guarded
from jobs_ui.api.beside_reflex import ApiBesideReflex
from jobs_ui.components.progress_card import tab_title
from jobs_ui.pages.exports import ExportJobState, export_job_page, exports_page
from jobs_ui.pages.extra import extra_pages
from jobs_ui.pages.fix_rows import FixRowsState, fix_rows_page
from jobs_ui.pages.home import home_page
from jobs_ui.pages.import_job import ImportJobState, import_job_page
from jobs_ui.pages.imports import imports_page
from jobs_ui.pages.jobs import JobsListState, jobs_page
from jobs_ui.services import Services
from jobs_ui.settings import get_settings
from jobs_ui.state.backend import register_app, takes_files
from jobs_ui.urls import API_PREFIX

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _page_origins() -> tuple[str, ...]:
    """Where Reflex serves the pages from (another port in dev mode): trusted like the
    API's own origin. Asked each time, since Reflex settles these URLs as it starts."""
    config = rx.config.get_config()
    return tuple(url for url in (config.deploy_url, config.api_url) if url)


services = Services.from_settings(get_settings(), app_origins=_page_origins)
services.upload_handlers = takes_files  # Reflex's upload route may feed these only


class JobsApp(rx.App):
    """Reflex's app with the jobs API beside it (jobs_ui.api.beside_reflex says why not
    inside it), and the request guard in front of both: the pages, `/_event`, `/_upload`,
    the CORS layers Reflex adds around them, and the API."""

    def __call__(self) -> ASGIApp:
        api = create_api(services, guarded=False)
        both = ApiBesideReflex(prefix=API_PREFIX, api=api, reflex=super().__call__())
        return guarded(both, services)


# Reflex's upload request goes to the backend, which may be another origin than the page
# (dev mode, or `api_url` elsewhere): send the visitor's cookie with it there too, so the
# backend knows who sends the file (jobs_ui.access.uploads).
UPLOAD_WITH_CREDENTIALS = """
(() => {
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    if (String(url).includes("/_upload")) this.withCredentials = true;
    return open.call(this, method, url, ...rest);
  };
})();
"""

app = JobsApp(
    head_components=[rx.script(UPLOAD_WITH_CREDENTIALS)],
    # Plain toasts: the rich colours' green on pale green reads below WCAG AA contrast.
    toaster=rx.toast.provider(rich_colors=False),
)
if app.sio is not None:  # Reflex's websocket follows the same origin rule as the API
    app.sio.eio.cors_allowed_origins = services.origins.websocket_origin_allowed
app.add_page(home_page, route=routes.HOME, title="jobs_ui")
app.add_page(imports_page, route=routes.IMPORTS, title="Import data · jobs_ui")
app.add_page(
    import_job_page,
    route=routes.IMPORT_JOB,
    title=tab_title(ImportJobState, "Import"),
    on_load=ImportJobState.follow_route_job,
)
app.add_page(
    fix_rows_page,
    route=routes.IMPORT_FIX,
    title="Fix skipped rows · jobs_ui",
    on_load=FixRowsState.open_grid,
)
app.add_page(exports_page, route=routes.EXPORTS, title="Export data · jobs_ui")
app.add_page(
    export_job_page,
    route=routes.EXPORT_JOB,
    title=tab_title(ExportJobState, "Export"),
    on_load=ExportJobState.follow_route_job,
)
app.add_page(
    jobs_page, route=routes.JOBS, title="Your jobs · jobs_ui", on_load=JobsListState.open_list
)
for extra in extra_pages():  # the pages of JOBS_UI_EXTENSIONS (loaded with the services)
    app.add_page(
        extra.component, route=extra.route, title=f"{extra.title} · jobs_ui", on_load=extra.on_load
    )

# A mounted app's own lifespan does not run under Reflex, so Reflex runs it.
app.register_lifespan_task(services.lifespan)
register_app(app, services)
