"""The README's "From Python" example, run as written against a real server."""

from __future__ import annotations

import asyncio
import re
import types
from pathlib import Path

import pytest

from jobs_ui.access.api_keys import create_key
from tests.support.jobs import write_csv

README = Path(__file__).resolve().parents[2] / "README.md"
EMBEDDED = pytest.mark.parametrize("settings", ["embedded"], indirect=True)


def readme_example() -> types.ModuleType:
    section = README.read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README lost its Python example"
    module = types.ModuleType("from_python_example")  # not __main__: nothing runs on load
    exec(compile(found.group(1), "README.md#from-python", "exec"), module.__dict__)
    return module


@EMBEDDED
def test_the_example_imports_and_follows_to_the_end(server, services, tmp_path, capsys):
    key = create_key(services.engine, owner="script", scopes=[])[1]
    prices = write_csv(
        tmp_path / "prices.csv",
        ["sku,name,price,stock", "B-1,Bolt,0.35,10", "N-1,Nut,0.10,-4"],
    )
    done = asyncio.run(readme_example().import_prices(prices, api_key=key, url=server.url))
    assert done.status == "COMPLETED"
    assert done.result and done.result["createdCount"] == 1 and done.result["skippedCount"] == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("100% ") and len(printed) >= 2  # each update, as it came
