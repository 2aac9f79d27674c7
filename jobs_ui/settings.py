"""One settings object, read from the environment; nothing else reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings. Environment names are part of the public contract."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path("data"), alias="JOBS_UI_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, alias="JOBS_UI_MAX_UPLOAD_BYTES", gt=0)
    runner_concurrency: int = Field(default=2, alias="JOBS_UI_RUNNER_CONCURRENCY", ge=1, le=64)
    # Where jobs run: "inprocess" (threads of the backend) or "celery" (queue workers).
    # Default: celery when REDIS_URL is set, else inprocess.
    runner: Literal["inprocess", "celery"] | None = Field(default=None, alias="JOBS_UI_RUNNER")
    # Celery broker; defaults to REDIS_URL (a RabbitMQ amqp:// URL works too).
    broker_url: str | None = Field(default=None, alias="JOBS_UI_BROKER_URL")
    # Prefix of Redis channels and Celery queues, so several deployments can share a Redis.
    namespace: str = Field(default="jobs_ui", alias="JOBS_UI_NAMESPACE", pattern=r"^[\w.-]{1,64}$")
    # A running job proves it is alive this often; one silent for `stale_after` is ended FAILED.
    heartbeat_seconds: float = Field(default=5.0, alias="JOBS_UI_HEARTBEAT_SECONDS", gt=0)
    stale_after_seconds: float = Field(default=30.0, alias="JOBS_UI_STALE_AFTER_SECONDS", gt=0)
    # An ended job's upload, export file and error report are deleted this long after it ended.
    keep_files_days: float = Field(default=7.0, alias="JOBS_UI_KEEP_FILES_DAYS", gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def runner_kind(self) -> str:
        return self.runner or ("celery" if self.redis_url else "inprocess")

    @property
    def celery_broker_url(self) -> str | None:
        return self.broker_url or self.redis_url

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL; a SQLite file in the data dir unless DATABASE_URL is set."""
        return self.database_url or f"sqlite:///{self.data_dir / 'jobs_ui.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
