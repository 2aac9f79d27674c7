"""A job's status as a coloured badge."""

from __future__ import annotations

import reflex as rx


def status_badge(status: rx.Var[str] | str) -> rx.Component:
    """PENDING grey, PROCESSING blue, COMPLETED green, FAILED red, CANCELLED amber."""
    value = status if isinstance(status, rx.Var) else rx.Var.create(status)
    return rx.match(
        value,
        ("PENDING", _badge("Waiting", "gray", "clock")),
        ("PROCESSING", _badge("Running", "blue", "loader")),
        ("COMPLETED", _badge("Completed", "green", "circle_check")),
        ("FAILED", _badge("Failed", "red", "circle_x")),
        ("CANCELLED", _badge("Cancelled", "amber", "ban")),
        _badge("Connecting", "gray", "wifi"),
    )


def _badge(label: str, color: str, icon: str) -> rx.Component:
    return rx.badge(
        rx.icon(icon, size=14),
        label,
        color_scheme=color,
        variant="soft",
        # The soft green's text on its own tint is under 4.5:1 at this size (WCAG AA).
        high_contrast=True,
        size="2",
        radius="full",
        data_testid="status-badge",
    )
