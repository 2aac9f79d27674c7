"""The frame every page shares: a navbar and a centred column."""

from __future__ import annotations

import reflex as rx

from jobs_ui import routes
from jobs_ui.state.job_news import JobNewsState

NAV_ITEMS = (("Imports", routes.IMPORTS), ("Exports", routes.EXPORTS), ("Jobs", routes.JOBS))
# Tighter on phones, so the links and the colour-mode switch fit one line.
NAV_SPACING = rx.breakpoints(initial="3", sm="5")


def navbar() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.icon("layers", size=20),
                    rx.heading("jobs_ui", size="4"),
                    align="center",
                    spacing="2",
                ),
                href="/",
                underline="none",
                color_scheme="gray",
                high_contrast=True,
            ),
            rx.spacer(),
            rx.hstack(
                *(
                    rx.link(label, href=href, size="3", weight="medium")
                    for label, href in NAV_ITEMS
                ),
                running_count(),
                spacing=NAV_SPACING,
                align="center",
            ),
            rx.color_mode.button(
                size="2", variant="ghost", aria_label="Switch between light and dark mode"
            ),
            align="center",
            spacing=NAV_SPACING,
            max_width="56rem",
            margin_x="auto",
            padding_x="1.25rem",
            padding_y="0.9rem",
        ),
        border_bottom="1px solid var(--gray-a5)",
        background_color="var(--color-panel)",
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
        # Every page has a navbar, so every page hears of the visitor's jobs ending.
        on_mount=JobNewsState.open_news,
    )


def running_count() -> rx.Component:
    """How many of the visitor's jobs are still to finish, beside the Jobs link (none: no
    badge)."""
    running = JobNewsState.running
    return rx.cond(
        running > 0,
        rx.tooltip(
            rx.link(
                rx.badge(
                    rx.icon("loader", size=12),
                    running,
                    color_scheme="blue",
                    variant="soft",
                    radius="full",
                    aria_label=JobNewsState.running_text,
                    data_testid="running-count",
                ),
                href=routes.JOBS,
                underline="none",
            ),
            content=JobNewsState.running_text,
        ),
    )


def page(*children: rx.Component, heading: str, lead: str = "") -> rx.Component:
    """A page: navbar, heading with a lead sentence, then the content."""
    return rx.box(
        navbar(),
        rx.vstack(
            rx.heading(heading, size="7"),
            *([rx.text(lead, color_scheme="gray", size="3")] if lead else []),
            *children,
            spacing="5",
            width="100%",
            max_width="56rem",
            margin_x="auto",
            padding_x="1.25rem",
            padding_y="2rem",
        ),
        min_height="100vh",
    )
