"""JOBS_UI_EXTENSIONS: the deployment's modules load, and a wrong name says what is wrong."""

from __future__ import annotations

import sys

import pytest

from jobs_ui.extensions import ExtensionError, load_extensions
from jobs_ui.pages.extra import add_import_page
from jobs_ui.settings import Settings


def settings_naming(modules: str) -> Settings:
    return Settings(JOBS_UI_EXTENSIONS=modules)


def test_named_modules_are_imported(tmp_path, monkeypatch):
    (tmp_path / "ext_marker.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ext_marker", raising=False)
    assert load_extensions(settings_naming(" ext_marker , ")) == ["ext_marker"]
    assert sys.modules["ext_marker"].LOADED


def test_a_module_that_is_not_there_is_named_with_a_hint():
    with pytest.raises(ExtensionError, match="'no_such_extension_module', which cannot be found"):
        load_extensions(settings_naming("no_such_extension_module"))


def test_a_module_whose_own_import_fails_says_that_import(tmp_path, monkeypatch):
    """The module is there; what it imports is not: the real name, not 'cannot be found'."""
    (tmp_path / "ext_broken.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz") as raised:
        load_extensions(settings_naming("ext_broken"))
    assert not isinstance(raised.value, ExtensionError)


@pytest.mark.parametrize(
    ("route", "dataset", "problem"),
    [
        ("/imports", "contacts", "has a page already"),  # a shipped page
        ("/", "contacts", "plain page path"),
        ("/books/[job_id]", "contacts", "plain page path"),
        ("/books", "no_such_dataset", "Unknown dataset"),
    ],
)
def test_add_import_page_refuses_what_would_clash(route, dataset, problem):
    with pytest.raises((ValueError, LookupError), match=problem):
        add_import_page(route, dataset=dataset)
