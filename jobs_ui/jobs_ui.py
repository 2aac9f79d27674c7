"""The Reflex app: its pages, plus the jobs API mounted beside Reflex's own routes."""

from __future__ import annotations

import logging

import reflex as rx

from jobs_ui.api.app import create_api
from jobs_ui.pages.exports import ExportJobState, export_job_page, exports_page
from jobs_ui.pages.home import home_page
from jobs_ui.pages.imports import ImportJobState, import_job_page, imports_page
from jobs_ui.pages.jobs import JobsListState, jobs_page
from jobs_ui.services import Services
from jobs_ui.settings import get_settings
from jobs_ui.state.backend import register_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

services = Services.from_settings(get_settings())

app = rx.App(api_transformer=create_api(services))
app.add_page(home_page, route="/", title="jobs_ui")
app.add_page(imports_page, route="/imports", title="Import data · jobs_ui")
app.add_page(
    import_job_page,
    route="/imports/[job_id]",
    title="Import · jobs_ui",
    on_load=ImportJobState.follow_route_job,
)
app.add_page(exports_page, route="/exports", title="Export data · jobs_ui")
app.add_page(
    export_job_page,
    route="/exports/[job_id]",
    title="Export · jobs_ui",
    on_load=ExportJobState.follow_route_job,
)
app.add_page(jobs_page, route="/jobs", title="Your jobs · jobs_ui", on_load=JobsListState.open_list)

# A mounted app's own lifespan does not run under Reflex, so Reflex runs it.
app.register_lifespan_task(services.lifespan)
register_app(app)
