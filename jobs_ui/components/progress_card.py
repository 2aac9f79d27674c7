"""The heart of a job page: status, bar, percentage, current step, errors, actions."""

from __future__ import annotations

import reflex as rx

from jobs_ui.components.form import message_callout
from jobs_ui.components.layout import page
from jobs_ui.components.status_badge import status_badge
from jobs_ui.state.job_status import JobStatusState


def progress_bar(state: type[JobStatusState]) -> rx.Component:
    """The bar, its percentage, and while it runs about how long is left."""
    return rx.hstack(
        rx.progress(
            value=state.progress,
            max=100,
            size="3",
            color_scheme=rx.cond(
                state.is_failed, "red", rx.cond(state.is_cancelled, "amber", "blue")
            ),
            width="100%",
            aria_label="Job progress",
        ),
        rx.text(
            f"{state.progress}%",
            weight="bold",
            data_testid="progress-percent",
            min_width="3.5em",
            align="right",
        ),
        rx.cond(
            state.eta_text != "",
            rx.text(
                state.eta_text,
                color_scheme="gray",
                size="2",
                white_space="nowrap",
                data_testid="job-eta",
            ),
        ),
        width="100%",
        align="center",
        spacing="3",
    )


def transport_note(state: type[JobStatusState]) -> rx.Component:
    """Says how updates arrive, and when the backend cannot be reached."""
    return rx.match(
        state.transport,
        ("live", rx.text("Live", size="1", color_scheme="green", data_testid="transport")),
        (
            "polling",
            rx.text(
                "Checking every few seconds", size="1", color_scheme="gray", data_testid="transport"
            ),
        ),
        (
            "offline",
            rx.callout(
                "The server cannot be reached. Still trying; this page updates when it is back.",
                icon="wifi_off",
                color_scheme="amber",
                size="1",
                data_testid="offline-notice",
            ),
        ),
        rx.fragment(),
    )


def job_actions(state: type[JobStatusState], can_retry: rx.Var[bool] | None = None) -> rx.Component:
    """Cancel while it runs; retry after failure or cancel (or where `can_retry` says: a
    page whose failures a retry cannot mend says so)."""
    return rx.hstack(
        rx.cond(
            state.is_active,
            rx.button(
                rx.icon("square", size=14),
                "Cancel",
                on_click=state.cancel_job,
                variant="soft",
                color_scheme="red",
            ),
        ),
        rx.cond(
            (state.is_failed | state.is_cancelled) if can_retry is None else can_retry,
            rx.button(
                rx.icon("rotate_ccw", size=14), "Retry", on_click=state.retry_job, variant="soft"
            ),
        ),
        spacing="3",
    )


def job_not_found() -> rx.Component:
    return rx.callout(
        "Job not found. Check the link, or find your jobs on the Jobs page.",
        icon="search_x",
        color_scheme="gray",
        data_testid="not-found",
    )


def progress_card(
    state: type[JobStatusState],
    title: rx.Var[str] | str,
    *body: rx.Component,
    can_retry: rx.Var[bool] | None = None,
    message_when_done: bool = True,
) -> rx.Component:
    """A card for one job: `body` goes under the bar (counts, download links...).
    `message_when_done=False`: the body says how it ended, so the message goes then."""
    message = rx.text(state.message, color_scheme="gray", size="2", data_testid="job-message")
    return rx.card(
        rx.cond(
            state.not_found,
            job_not_found(),
            rx.vstack(
                rx.hstack(
                    rx.heading(title, size="5"),
                    rx.spacer(),
                    status_badge(state.status),
                    width="100%",
                    align="center",
                ),
                progress_bar(state),
                message if message_when_done else rx.cond(~state.is_completed, message),
                message_callout(state.error, test_id="job-error"),
                message_callout(
                    state.restart_note, test_id="restart-note", icon="rotate_cw", color="blue"
                ),
                *body,
                message_callout(state.action_error, test_id="action-error", icon="info"),
                rx.hstack(
                    job_actions(state, can_retry),
                    rx.spacer(),
                    transport_note(state),
                    width="100%",
                    align="center",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
        size="3",
    )


def tab_title(state: type[JobStatusState], name: str) -> rx.Var[str]:
    """A job page's title, led by how far the job is: "42% · Import · jobs_ui"."""
    plain = f"{name} · jobs_ui"
    return rx.cond(state.tab_label != "", state.tab_label + f" · {plain}", plain)


def job_page(
    state: type[JobStatusState],
    *outcome: rx.Component,
    title: rx.Var[str] | str,
    heading: str,
    back_href: str,
    back_label: str,
    can_retry: rx.Var[bool] | None = None,
    message_when_done: bool = True,
) -> rx.Component:
    """A whole job page: the progress card with `outcome` under the bar, and a way back."""
    return page(
        progress_card(
            state, title, *outcome, can_retry=can_retry, message_when_done=message_when_done
        ),
        rx.link(f"← {back_label}", href=back_href, size="2"),
        heading=heading,
    )
