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
    # A job interrupted by a restart or a lost worker runs again by itself (it is all or
    # nothing, so that is safe), this many runs in all; then it ends FAILED.
    max_attempts: int = Field(default=3, alias="JOBS_UI_MAX_ATTEMPTS", ge=1, le=100)
    # An ended job's upload, export file and error report are deleted this long after it ended.
    keep_files_days: float = Field(default=7.0, alias="JOBS_UI_KEEP_FILES_DAYS", gt=0)

    # --- identity and access -------------------------------------------------------------
    # Signing keys, comma-separated: the first signs, all verify (rotate by putting a new
    # one first). Unset: one is made on first start and kept in the data dir.
    secret_key: str | None = Field(default=None, alias="JOBS_UI_SECRET_KEY", repr=False)
    # "optional": a caller without credentials is a visitor (a signed cookie);
    # "required": such a caller gets 401.
    auth: Literal["optional", "required"] = Field(default="optional", alias="JOBS_UI_AUTH")
    # Origins other than the app's own that may call the API with the visitor's cookie
    # (CORS and state-changing requests) and open Reflex's websocket; comma-separated.
    allowed_origins: str = Field(default="", alias="JOBS_UI_ALLOWED_ORIGINS")
    # Host headers served; comma-separated, a leading dot allows subdomains, "*" any.
    allowed_hosts: str = Field(default="localhost,127.0.0.1,[::1]", alias="JOBS_UI_ALLOWED_HOSTS")
    api_docs: bool = Field(default=True, alias="JOBS_UI_API_DOCS")
    access_token_minutes: float = Field(
        default=15.0, alias="JOBS_UI_ACCESS_TOKEN_MINUTES", gt=0, le=7 * 24 * 60
    )

    # --- limits per principal (shared by all backends through the database and Redis) ----
    max_active_jobs: int = Field(default=5, alias="JOBS_UI_MAX_ACTIVE_JOBS", ge=1)
    max_open_streams: int = Field(default=20, alias="JOBS_UI_MAX_OPEN_STREAMS", ge=1)
    max_stored_bytes: int = Field(default=1024**3, alias="JOBS_UI_MAX_STORED_BYTES", gt=0)
    # Request bodies other than uploads (JSON routes and anything else).
    max_json_bytes: int = Field(default=64 * 1024, alias="JOBS_UI_MAX_JSON_BYTES", gt=0)

    # --- limits of a file's contents ---------------------------------------------------------
    max_line_bytes: int = Field(default=1024 * 1024, alias="JOBS_UI_MAX_LINE_BYTES", gt=0)
    max_columns: int = Field(default=1000, alias="JOBS_UI_MAX_COLUMNS", ge=1)
    # A worksheet estimated to need more memory than this loaded whole is streamed (about 4x
    # slower, flat memory). 512: a 1,000,000-row sheet of 4 columns takes about 330 MB loaded
    # whole, and two imports run at once by default (JOBS_UI_RUNNER_CONCURRENCY).
    xlsx_memory_mb: int = Field(default=512, alias="JOBS_UI_XLSX_MEMORY_MB", gt=0)

    # --- webhooks --------------------------------------------------------------------------
    # Targets that resolve to loopback, private or link-local addresses are refused (at
    # registration and again at each delivery) unless this is true: for a receiver on the
    # same machine or network, and for tests.
    webhook_allow_private: bool = Field(default=False, alias="JOBS_UI_WEBHOOK_ALLOW_PRIVATE")
    max_webhooks: int = Field(default=20, alias="JOBS_UI_MAX_WEBHOOKS", ge=1, le=1000)
    # Of them, at most this many for one host (each is another request to it for every job).
    max_webhooks_per_host: int = Field(
        default=5, alias="JOBS_UI_MAX_WEBHOOKS_PER_HOST", ge=1, le=1000
    )
    # One delivery attempt in all (resolving, connecting, sending, the answer's head).
    webhook_timeout_seconds: float = Field(
        default=10.0, alias="JOBS_UI_WEBHOOK_TIMEOUT_SECONDS", gt=0, le=300
    )
    # A failed delivery is tried again after this long, each wait 4 times the one before
    # (1 s, 4 s, 16 s, ...) up to the most, and given up once it is this old.
    webhook_retry_seconds: float = Field(default=1.0, alias="JOBS_UI_WEBHOOK_RETRY_SECONDS", gt=0)
    webhook_retry_max_seconds: float = Field(
        default=3600.0, alias="JOBS_UI_WEBHOOK_RETRY_MAX_SECONDS", gt=0
    )
    webhook_give_up_seconds: float = Field(
        default=24 * 3600.0, alias="JOBS_UI_WEBHOOK_GIVE_UP_SECONDS", gt=0
    )
    # How often a delivery loop looks for deliveries due that another process wrote (those of
    # its own process wake it at once).
    webhook_poll_seconds: float = Field(
        default=1.0, alias="JOBS_UI_WEBHOOK_POLL_SECONDS", gt=0, le=60
    )

    # --- the deployment's own code ---------------------------------------------------------
    # Modules imported at start by the backend and the worker: where a developer registers
    # datasets and pages (comma-separated, e.g. "myapp.books,myapp.orders").
    extensions: str = Field(default="", alias="JOBS_UI_EXTENSIONS")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @staticmethod
    def _split(value: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in value.split(",") if part.strip())

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return self._split(self.secret_key or "")

    @property
    def extra_origins(self) -> tuple[str, ...]:
        return tuple(origin.rstrip("/") for origin in self._split(self.allowed_origins))

    @property
    def host_patterns(self) -> tuple[str, ...]:
        return tuple(host.lower() for host in self._split(self.allowed_hosts))

    @property
    def extension_modules(self) -> tuple[str, ...]:
        return self._split(self.extensions)

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
