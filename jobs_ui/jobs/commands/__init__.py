"""Every decision of who may do what to which job or dataset, in one place.

The API routes and the Reflex states both call these commands, in-process. A job is its
owner's alone: another principal's job answers exactly as an unknown one ("Job not found"),
so nobody can learn that it exists. `jobs:admin` sees and acts on all. A job access token
reads its one job and does nothing else. Commands block (database, disk): call them from a
thread pool in async code.

`base` holds what every command shares (errors, the visibility rule, the checks before
acting), `imports` the commands that take a file in, `outcomes` committing dry runs and
undoing imports, `jobs` the rest and `JobCommands`; `webhooks` the principal's webhooks.
"""

from jobs_ui.jobs.commands.base import (
    JOB_NOT_FOUND,
    UPLOAD_NOT_FOUND,
    CommandError,
    CreatedJob,
    ExportFormat,
    JobPage,
    check_visible,
    too_large_message,
)
from jobs_ui.jobs.commands.jobs import JobCommands
from jobs_ui.jobs.commands.webhooks import WEBHOOK_NOT_FOUND, WebhookCommands

__all__ = [
    "JOB_NOT_FOUND",
    "UPLOAD_NOT_FOUND",
    "WEBHOOK_NOT_FOUND",
    "CommandError",
    "CreatedJob",
    "ExportFormat",
    "JobCommands",
    "JobPage",
    "WebhookCommands",
    "check_visible",
    "too_large_message",
]
