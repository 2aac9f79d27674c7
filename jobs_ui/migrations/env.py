"""Alembic environment: runs on the engine the app hands over (see jobs_ui.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import jobs_ui.dataset_tables
import jobs_ui.models  # noqa: F401  (registers the job table)
from jobs_ui.db import make_engine
from jobs_ui.settings import get_settings

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine") or make_engine(get_settings().sqlalchemy_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations()
