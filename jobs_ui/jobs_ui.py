"""The Reflex app: pages, plus the jobs API mounted beside Reflex's own routes."""

from __future__ import annotations

import logging

import reflex as rx

import jobs_ui.pages.exports
import jobs_ui.pages.home
import jobs_ui.pages.imports
import jobs_ui.pages.jobs  # noqa: F401  (pages register themselves with @rx.page)
from jobs_ui.api.app import create_api
from jobs_ui.services import Services
from jobs_ui.settings import get_settings
from jobs_ui.state.backend import register_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

services = Services.from_settings(get_settings())

app = rx.App(api_transformer=create_api(services))
# A mounted app's own lifespan does not run under Reflex, so Reflex runs it.
app.register_lifespan_task(services.lifespan)
register_app(app)
