"""Reflex configuration. Deployment settings come from the environment (jobs_ui.settings)."""

import reflex as rx
from reflex_components_radix.plugin import RadixThemesPlugin

from jobs_ui.access.origins import TrustedOrigins, origin_policy
from jobs_ui.server import choose_server
from jobs_ui.settings import get_settings

settings = get_settings()
choose_server()  # uvicorn with the app's worker, not Granian: see jobs_ui/server.py

config = rx.Config(
    app_name="jobs_ui",
    db_url=settings.sqlalchemy_url,
    # With Redis, Reflex keeps its own state there too, so several backend processes can
    # serve the same users (see "Running at scale" in the README).
    redis_url=settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        ),
    ],
)

# Reflex answers CORS for its own routes and the mounted API from this list: the origins
# JOBS_UI_ALLOWED_ORIGINS names and the pages' own (another port in dev mode), never "*"
# (Reflex allows credentials). The API's guard applies the same rule (jobs_ui.access).
config.cors_allowed_origins = TrustedOrigins(
    origin_policy(settings, app_origins=lambda: (config.deploy_url or "", config.api_url))
)
