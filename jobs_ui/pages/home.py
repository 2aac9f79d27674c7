"""/: where to start."""

from __future__ import annotations

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.layout import page


def _action_card(icon: str, title: str, text: str, href: str, label: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=28, color="var(--accent-9)"),
            rx.heading(title, size="4"),
            rx.text(text, color_scheme="gray", size="2"),
            rx.link(rx.button(label, variant="soft"), href=href),
            spacing="3",
        ),
        size="3",
        width="100%",
    )


def home_page() -> rx.Component:
    return page(
        rx.grid(
            _action_card(
                "upload",
                "Import a file",
                "Upload CSV, JSON Lines or Excel. Watch every row get checked, "
                "and see what was skipped and why.",
                routes.IMPORTS,
                "Import data",
            ),
            _action_card(
                "download",
                "Export a dataset",
                "Pick a dataset and a format; the file downloads as soon as it is ready.",
                routes.EXPORTS,
                "Export data",
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
        ),
        rx.link("See your recent jobs →", href=routes.JOBS, size="2"),
        heading="Imports and exports, live",
        lead="Big files run in the background. Progress shows up here the moment it happens.",
    )
