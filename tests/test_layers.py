"""The direction of the flow, held by a test: which packages may import which.

Read from the source (no imports run), so a new module that breaks a rule fails here with
its name and the import that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jobs_ui"

# What a module may not import, by where it lives. The upper layers (api/, state/, pages/,
# components/, the app module) sit on top of everything else.
UPPER = ("jobs_ui.api", "jobs_ui.state", "jobs_ui.pages", "jobs_ui.components", "jobs_ui.jobs_ui")
RULES: dict[str, tuple[str, ...]] = {
    # Engines know nothing of HTTP, Reflex, Celery, how jobs run, or URLs.
    "jobs_ui.engines": (*UPPER, "jobs_ui.jobs", "jobs_ui.live", "jobs_ui.urls", "jobs_ui.client",
                        "fastapi", "starlette", "reflex", "celery"),
    "jobs_ui.datasets": (*UPPER, "jobs_ui.jobs", "jobs_ui.live", "jobs_ui.engines"),
    "jobs_ui.jobs": UPPER,
    "jobs_ui.live": (*UPPER, "jobs_ui.jobs", "jobs_ui.engines"),
    "jobs_ui.access": (*UPPER, "jobs_ui.live", "jobs_ui.engines"),
    # Webhooks are told of jobs (the store's outbox) and run by the jobs' runners, never the
    # other way round; they know nothing of how a job runs, nor of engines or streams.
    "jobs_ui.webhooks": (*UPPER, "jobs_ui.jobs", "jobs_ui.live", "jobs_ui.engines", "celery"),
    "jobs_ui.schemas": ("jobs_ui",),  # pure: the client and other programs import it alone
    "jobs_ui.services": UPPER,
    "jobs_ui.state": ("jobs_ui.pages", "jobs_ui.api", "jobs_ui.jobs_ui"),
    "jobs_ui.components": ("jobs_ui.pages", "jobs_ui.api", "jobs_ui.jobs_ui"),
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_one_way(path: Path):
    name = module_name(path)
    forbidden = [banned for owner, banned in RULES.items() if within(name, owner)]
    breaking = sorted(
        imported
        for imported in imports_of(path)
        for rule in forbidden
        for banned in rule
        if within(imported, banned) and not within(imported, name)
    )
    assert not breaking, f"{name} imports {breaking}"


def test_the_rules_see_every_package():
    """A rule for a package that does not exist (a rename) would guard nothing."""
    packages = {module_name(p) for p in MODULES}
    for owner in RULES:
        assert owner in packages, owner


# The command installs and runs far from the server: of the app, it uses the client alone.
CLI_MAY_IMPORT = ("jobs_ui.cli", "jobs_ui.client")


@pytest.mark.parametrize(
    "path", [p for p in MODULES if within(module_name(p), "jobs_ui.cli")], ids=module_name
)
def test_the_command_uses_the_client_alone(path: Path):
    of_the_app = {name for name in imports_of(path) if within(name, "jobs_ui")}
    breaking = sorted(
        name for name in of_the_app if not any(within(name, ok) for ok in CLI_MAY_IMPORT)
    )
    assert not breaking, f"{module_name(path)} imports {breaking}"
