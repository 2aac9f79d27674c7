"""The README's Extending example as an extension module (JOBS_UI_EXTENSIONS), for the app
the browser tests run: the block is run as this module's own code."""

from __future__ import annotations

from tests.support.readme_example import extending_example

exec(compile(extending_example(), "README.md#extending", "exec"), globals())


def forget() -> None:
    """Take the example's dataset and table out of this process again (the rest of the
    suite runs in it and expects the shipped datasets alone)."""
    from sqlmodel import SQLModel

    from jobs_ui.datasets import registry

    registry.unregister("books")
    SQLModel.metadata.remove(SQLModel.metadata.tables["book"])
