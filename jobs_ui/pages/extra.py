"""A developer's own pages, each one call: `add_import_page("/books", dataset="books")`.

The call records the pages; the app adds them with its own (jobs_ui/jobs_ui.py), so a call
made by a module of `JOBS_UI_EXTENSIONS` is all it takes. Each page gets state classes of
its own, made here, so it follows its own job beside the shipped pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.layout import page
from jobs_ui.datasets import registry
from jobs_ui.pages.fix_rows import FixRows, fix_rows_page
from jobs_ui.pages.import_job import ImportJob, import_job_page
from jobs_ui.pages.imports import ImportForm, import_form
from jobs_ui.state.job_status import JobStatusState


@dataclass(frozen=True)
class ExtraPage:
    """One page to add to the app, as `rx.App.add_page` takes it."""

    route: str
    component: Callable[[], rx.Component]
    title: str
    state: type[rx.State]  # the page's own state class
    on_load: Any = None


_pages: list[ExtraPage] = []
_SHIPPED = {routes.HOME, routes.IMPORTS, routes.EXPORTS, routes.JOBS}


def extra_pages() -> list[ExtraPage]:
    """Every page recorded so far, in the order they were added."""
    return list(_pages)


def add_import_page(
    route: str,
    *,
    dataset: str,
    heading: str | None = None,
    on_complete: Callable[[dict[str, Any]], Any] | None = None,
) -> type[JobStatusState]:
    """An import page for one dataset at `route`, its job page at `route/[job_id]`, and the
    grid that fixes a job's skipped rows at `route/[job_id]/fix`.

    `on_complete(result)` may return events (a toast, a redirect) for when a job of this
    page completes. Returns the job page's state class, for more hooks or vars.
    """
    label = registry.get(dataset).label  # an unknown dataset fails here, at start
    route = "/" + route.strip("/")
    heading = heading or f"Import {label.lower()}"
    stem = "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", route) if part)
    if not stem or "[" in route or "]" in route:
        raise ValueError(f"add_import_page needs a plain page path, e.g. /books: {route!r}")
    if route.lower() in _SHIPPED or any(
        added.route == route or added.state.__name__.startswith(f"{stem}Import") for added in _pages
    ):
        raise ValueError(f"add_import_page: {route} (or one named like it) has a page already")

    def job_href(_self: Any, job_id: str) -> str:
        return f"{route}/{job_id}"

    def own_dataset(_self: Any) -> str:
        return dataset  # whatever a tab sets its vars to, this page imports here alone

    # Reflex reads a state's module for its annotations: these classes live here.
    form_namespace: dict[str, Any] = {
        "__module__": __name__,
        "__annotations__": {"dataset": str},
        "dataset": dataset,
        "_job_href": job_href,
        "_dataset_to_import": own_dataset,
    }
    form = cast(
        type[ImportForm], type(f"{stem}ImportFormState", (ImportForm, rx.State), form_namespace)
    )
    job_namespace: dict[str, Any] = {"__module__": __name__}
    if on_complete is not None:

        def completed(_self: Any, result: dict[str, Any]) -> Any:
            return on_complete(result)

        job_namespace["on_complete"] = rx.event(completed)
    job = cast(type[ImportJob], type(f"{stem}ImportJobState", (ImportJob, rx.State), job_namespace))
    fix_namespace: dict[str, Any] = {"__module__": __name__, "_job_href": job_href}
    fix = cast(type[FixRows], type(f"{stem}FixRowsState", (FixRows, rx.State), fix_namespace))

    def form_page() -> rx.Component:
        return page(
            import_form(form, pick_dataset=False),
            heading=heading,
            lead=f"Into {label.lower()}: bad rows are skipped and listed, good ones saved.",
        )

    def job_page() -> rx.Component:
        return import_job_page(job, heading=heading, back_href=route)

    # Reflex pickles states by name: the classes must be found here as module attributes.
    for made in (form, job, fix):
        made.__qualname__ = made.__name__
        globals()[made.__name__] = made
    _pages.append(ExtraPage(route, form_page, heading, form))
    _pages.append(ExtraPage(f"{route}/[job_id]", job_page, heading, job, job.follow_route_job))
    _pages.append(
        ExtraPage(f"{route}/[job_id]/fix", lambda: fix_rows_page(fix), heading, fix, fix.open_grid)
    )
    return job
