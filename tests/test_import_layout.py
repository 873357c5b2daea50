"""Who may import whom, read from the source with ``ast`` (nothing is imported to check it).

The service's layers (docs/architecture.md): faces (how the world talks to us) on top,
then the workers, then the records and rules; the voices and the templates import nothing
of the project. An import that points up, or sideways into a face, fails here with its line.

Test modules share helpers through ``tests.support`` and ``devtools``, never by importing
another test module or a conftest (that would collect and run its tests' imports twice and
tie unrelated tests together). Benchmarks and ``devtools`` never import the tests, and the
installed service imports neither.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PACKAGES = ("service", "voices", "templates", "workers")
"""What the wheel installs (pyproject's setuptools include list)."""
FACES = ("service.app", "service.api", "service.console", "service.listen", "service.cli")
FACES += ("service.deps", "service.intake", "service.__main__")
LAYERS_BELOW = {
    "faces": {"faces", "workers", "rules", "templates", "voices"},
    "workers": {"workers", "rules", "templates", "voices"},
    "rules": {"rules", "templates", "voices"},
    "templates": {"templates"},
    "voices": {"voices"},
}
"""The layers each layer may import from."""
LEAF_MODULES = ("service/links.py", "service/clock.py")
"""Records-and-rules modules that import nothing of the project at all."""


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted name) for every import in the file, relative ones made absolute.

    ``from a.b import c`` yields ``a.b.c``: ``c`` may be a module.
    """
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offences(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        for line, name in imported_names(path)
        if any(within(name, f) for f in forbidden) and not any(within(name, a) for a in allowed)
    ]


def test_benchmarks_do_not_import_the_tests() -> None:
    assert offences("bench", forbidden=("tests",)) == []


def test_devtools_do_not_import_the_tests() -> None:
    assert offences("devtools", forbidden=("tests",)) == []


@pytest.mark.parametrize("package", SHIPPED_PACKAGES)
def test_the_installed_service_imports_no_development_code(package: str) -> None:
    assert offences(package, forbidden=("tests", "devtools")) == []


def test_tests_import_only_support_from_the_tests_package() -> None:
    assert offences("tests", forbidden=("tests",), allowed=("tests.support",)) == []


def test_the_walk_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    """The checks above pass vacuously if the walk misses imports: it must see these."""
    module = tmp_path / "tests" / "service" / "test_sample.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import tests.conftest\n"
        "from . import test_other\n"
        "from ..support.api import Keys\n"
        "def helper():\n"
        "    from .conftest import thing\n"
    )
    assert sorted(imported_names(module, root=tmp_path)) == [
        (1, "tests.conftest"),
        (2, "tests.service.test_other"),
        (3, "tests.support.api.Keys"),
        (5, "tests.service.conftest.thing"),
    ]


def layer(name: str) -> str:
    top = name.split(".", 1)[0]
    if top in ("voices", "templates", "workers"):
        return top
    return "faces" if any(within(name, face) for face in FACES) else "rules"


def layer_offences(path: Path, root: Path = ROOT) -> list[str]:
    own = layer(module_name(path, root))
    return [
        f"{path.relative_to(root)}:{line} ({own}) imports {name} ({layer(name)})"
        for line, name in imported_names(path, root)
        if name.split(".", 1)[0] in SHIPPED_PACKAGES and layer(name) not in LAYERS_BELOW[own]
    ]


@pytest.mark.parametrize("package", SHIPPED_PACKAGES)
def test_imports_point_down_the_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files and [offence for path in files for offence in layer_offences(path)] == []


@pytest.mark.parametrize("leaf", LEAF_MODULES)
def test_leaf_modules_import_nothing_of_the_project(leaf: str) -> None:
    names = [name for _, name in imported_names(ROOT / leaf)]
    assert names and not [n for n in names if n.split(".", 1)[0] in SHIPPED_PACKAGES]


def test_the_layer_check_sees_imports_that_point_up(tmp_path: Path) -> None:
    rules = tmp_path / "service" / "reminders.py"
    rules.parent.mkdir()
    rules.write_text(
        "from service.models import Reminder\n"
        "def late():\n"
        "    from workers.pipeline import Pipeline\n"
        "    from .deps import Services\n"
    )
    assert layer_offences(rules, root=tmp_path) == [
        "service/reminders.py:3 (rules) imports workers.pipeline.Pipeline (workers)",
        "service/reminders.py:4 (rules) imports service.deps.Services (faces)",
    ]
