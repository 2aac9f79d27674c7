"""Alembic environment: runs on the engine the app hands over (see jobs_ui.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import jobs_ui.access.api_keys  # registers the api_key table
import jobs_ui.datasets
import jobs_ui.engines.change_log  # registers the import_change table
import jobs_ui.jobs.mappings  # registers the remembered_mapping table
import jobs_ui.jobs.uploads  # registers the inspected_upload table
import jobs_ui.models  # registers the job table
import jobs_ui.webhooks.models  # noqa: F401  (registers the webhook tables)
from jobs_ui.db import make_engine
from jobs_ui.migrations.scope import is_the_apps_own
from jobs_ui.settings import get_settings

target_metadata = SQLModel.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=is_the_apps_own,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = context.config.attributes.get("engine") or make_engine(get_settings().sqlalchemy_url)
    with engine.connect() as fresh:
        run_migrations(fresh)
        fresh.commit()


main()
