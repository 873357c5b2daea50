"""The sandbox: a template can read facts and say them, and nothing more."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from templates import (
    BrokenTemplate,
    MissingFact,
    environment,
    make_environment,
    render_message,
    sample_facts,
)

TEMPLATE_ROOT = Path(__file__).resolve().parents[2] / "templates"
ESCAPE = "{{ ''.__class__.__mro__[1].__subclasses__() }}"


def test_the_environment_is_a_strict_plain_text_sandbox() -> None:
    env = environment()
    assert isinstance(env, SandboxedEnvironment)
    assert env.autoescape is False
    assert env.from_string("{{ a }} & {{ b }}").render(a="<b>", b="'") == "<b> & '"
    with pytest.raises(UndefinedError):
        env.from_string("Hello {{ nobody }}").render()


def test_reaching_python_internals_is_refused() -> None:
    with pytest.raises(SecurityError):
        environment().from_string(ESCAPE).render()


def test_templates_cannot_change_the_facts_they_are_given() -> None:
    names = ["María"]
    with pytest.raises(SecurityError):
        environment().from_string("{{ names.append('Eve') }}").render(names=names)
    assert names == ["María"]


def _root_with(tmp_path: Path, body: str) -> Path:
    shutil.copytree(TEMPLATE_ROOT / "en", tmp_path / "en")
    (tmp_path / "en" / "appointment_reminder.call.j2").write_text(body, encoding="utf-8")
    return tmp_path


def _render_call(root: Path) -> None:
    render_message(
        "appointment_reminder", "en", "call", sample_facts("appointment_reminder"), root=root
    )


def test_a_template_that_tries_to_escape_is_reported_broken(tmp_path: Path) -> None:
    root = _root_with(tmp_path, f"Hello {{{{ patient_name }}}}. {ESCAPE}\n")
    with pytest.raises(BrokenTemplate, match="sandbox") as caught:
        _render_call(root)
    assert isinstance(caught.value.__cause__, SecurityError)


def test_a_template_with_bad_syntax_is_reported_broken(tmp_path: Path) -> None:
    root = _root_with(tmp_path, "Hello {{ patient_name \n")
    with pytest.raises(BrokenTemplate, match="line 1"):
        _render_call(root)


def test_a_template_asking_for_a_fact_nobody_has_names_it(tmp_path: Path) -> None:
    root = _root_with(tmp_path, "Hello {{ patient_name }}. Your room is {{ room_number }}.\n")
    with pytest.raises(MissingFact) as caught:
        _render_call(root)
    assert caught.value.fact == "room_number"
    assert isinstance(caught.value.__cause__, UndefinedError)


def test_each_root_gets_its_own_environment(tmp_path: Path) -> None:
    root = _root_with(tmp_path, "Hi {{ first_name }}.\n")
    assert make_environment(root) is not environment()
    message = render_message(
        "appointment_reminder", "en", "call", sample_facts("appointment_reminder"), root=root
    )
    assert message.text == "Hi María."
