"""Reflex configuration. Deployment settings come from the environment (jobs_ui.settings)."""

import reflex as rx

from jobs_ui.settings import get_settings

config = rx.Config(
    app_name="jobs_ui",
    db_url=get_settings().sqlalchemy_url,
    telemetry_enabled=False,
    plugins=[rx.plugins.SitemapPlugin()],
)
