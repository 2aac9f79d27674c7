"""The Reflex app: the jobs API mounted beside Reflex's own routes, started with the app."""

from __future__ import annotations

import logging

import reflex as rx

from jobs_ui.api.app import create_api
from jobs_ui.services import Services
from jobs_ui.settings import get_settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

services = Services.from_settings(get_settings())

app = rx.App(api_transformer=create_api(services))
# A mounted app's own lifespan does not run under Reflex, so Reflex runs it.
app.register_lifespan_task(services.lifespan)
