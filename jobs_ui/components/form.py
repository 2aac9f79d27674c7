"""Pieces the start-a-job forms share."""

from __future__ import annotations

from typing import Any, Literal

import reflex as rx

from jobs_ui.datasets import registry


def first_dataset() -> str:
    """The dataset a form starts on."""
    names = registry.names()
    return names[0] if names else ""


def field_label(text: str) -> rx.Component:
    return rx.text(text, weight="medium", size="2")


def dataset_select(value: rx.Var[str] | str, on_change: Any) -> rx.Component:
    """The registered datasets, by name."""
    return rx.select(
        registry.names(),
        value=value,
        on_change=on_change,
        width="100%",
        data_testid="dataset-select",
        # The select's button is what a screen reader lands on: it says what it picks.
        custom_attrs={"aria-label": "Dataset"},
    )


def message_callout(
    message: rx.Var[str] | str,
    *,
    test_id: str,
    icon: str = "triangle_alert",
    color: Literal["red", "blue"] = "red",
) -> rx.Component:
    """A callout (red: something went wrong) that shows only while `message` is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme=color, data_testid=test_id),
    )


def form_card(*children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(*children, spacing="3", width="100%"), size="3", width="100%")
