"""The import rule of docs/architecture.md, checked on every module's imports.

Faces (how the world talks to us) sit on top, then the workers, then the records and
rules; the voices and the templates import nothing of the project. An import that points
up, or sideways into a face, fails here with the line that made it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "workers", "voices", "templates")
FACES = ("service.app", "service.api", "service.console", "service.listen", "service.cli")
FACES += ("service.deps", "service.intake", "service.__main__")
LEAVES = ("service.links", "service.clock")
"""Records-and-rules modules that import nothing of the project at all."""


def layer(module: str) -> str:
    top = module.split(".", 1)[0]
    if top in ("voices", "templates", "workers"):
        return top
    if any(module == face or module.startswith(face + ".") for face in FACES):
        return "faces"
    return "rules"


ALLOWED = {
    "faces": {"faces", "workers", "rules", "templates", "voices"},
    "workers": {"workers", "rules", "templates", "voices"},
    "rules": {"rules", "templates", "voices"},
    "templates": {"templates"},
    "voices": {"voices"},
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def project_imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for each import of a project module, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            names = [base]
        for name in names:
            if name.split(".", 1)[0] in PACKAGES:
                yield node.lineno, name


ALL_MODULES = list(modules())


def violations(module: str, path: Path) -> list[str]:
    own = layer(module)
    return [
        f"{path.name}:{line} ({own}) imports {name} ({layer(name)})"
        for line, name in project_imports(module, path)
        if layer(name) not in ALLOWED[own]
    ]


@pytest.mark.parametrize("module, path", ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_imports_point_down_the_layers(module: str, path: Path) -> None:
    assert violations(module, path) == []


@pytest.mark.parametrize("module", LEAVES)
def test_leaf_modules_import_nothing_of_the_project(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    assert list(project_imports(module, path)) == []


def test_the_walk_catches_imports_that_point_up(tmp_path: Path) -> None:
    source = tmp_path / "rules.py"
    source.write_text(
        "from service.models import Reminder\n"
        "def late():\n"
        "    from workers.pipeline import Pipeline\n"
        "    from .deps import Services\n"
    )
    assert violations("service.reminders", source) == [
        "rules.py:3 (rules) imports workers.pipeline (workers)",
        "rules.py:4 (rules) imports service.deps (faces)",
    ]
    assert violations("voices.speaker", source)[0].endswith("imports service.models (rules)")
