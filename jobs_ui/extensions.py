"""The deployment's own code, named by `JOBS_UI_EXTENSIONS`, imported once per process.

A module there registers datasets (`jobs_ui.datasets.register`) and pages
(`jobs_ui.pages.extra.add_import_page`) as it is imported. The backend and the Celery worker
both load them, so a job queued by one is understood by the other.
"""

from __future__ import annotations

import importlib
import logging

from jobs_ui.settings import Settings

log = logging.getLogger(__name__)


class ExtensionError(ImportError):
    """An extension module named in the settings cannot be imported."""


def load_extensions(settings: Settings) -> list[str]:
    """Import every module of `JOBS_UI_EXTENSIONS` (again is free: Python keeps them)."""
    loaded = []
    for name in settings.extension_modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            # The named module itself (or its package) is missing, not one it imports.
            if error.name and (name == error.name or name.startswith(error.name + ".")):
                raise ExtensionError(
                    f"JOBS_UI_EXTENSIONS names {name!r}, which cannot be found: "
                    f"is it on the Python path (run from the folder that holds it)?"
                ) from error
            raise
        loaded.append(name)
    if loaded:
        log.info("extensions loaded: %s", ", ".join(loaded))
    return loaded
