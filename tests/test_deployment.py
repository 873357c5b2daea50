"""The container deployment: what docker-compose.yml and the Dockerfile promise an operator.

Read as data: migrations run once before the API and the workers, which restart on
failure, report their health, write to a data volume they own and refuse to start
without a real secret key. The health-check commands themselves are run against a live
server. With a Docker daemon at hand the whole stack is also built and brought up.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from devtools.ports import free_port
from service.config import Settings
from tests.support.api import LiveServer

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_URL = "127.0.0.1:8000"
"""Where a health check inside the container finds the API."""
TELLWELL_SERVICES = ("migrate", "api", "worker")
LONG_RUNNING = ("api", "worker", "postgres", "redis")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
"""Port 1: nothing listens there."""
DOCKER_UP_TIMEOUT_S = 1200
"""Building the image (apt, pip) and waiting for every health check."""


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    steps = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            steps.append((instruction.upper(), arguments.strip()))
    return steps


def healthcheck_commands() -> dict[str, list[str]]:
    """Every API health check, as argv: the Dockerfile's and the compose api service's."""
    (image_check,) = [args for step, args in dockerfile() if step == "HEALTHCHECK"]
    exec_form = json.loads(image_check.split(" CMD ", 1)[1])
    compose_form = compose()["services"]["api"]["healthcheck"]["test"]
    assert compose_form[0] == "CMD"
    return {"Dockerfile": exec_form, "docker-compose.yml": compose_form[1:]}


def test_migrations_run_once_before_the_api_and_the_worker() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["tellwell", "migrate"]
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    image_command = next(args for step, args in dockerfile() if step == "CMD")
    assert "migrate" not in image_command, "one place migrates: the migrate service"


def test_long_running_services_restart_and_report_their_health() -> None:
    services = compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "tellwell", "check"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for source, command in healthcheck_commands().items():
        assert f"http://{IMAGE_URL}/readyz" in " ".join(command), source


def test_the_secret_key_must_be_given() -> None:
    for name in TELLWELL_SERVICES:
        value = compose()["services"][name]["environment"]["TELLWELL_SECRET_KEY"]
        assert re.fullmatch(r"\$\{TELLWELL_SECRET_KEY:\?[^}]+\}", value), (name, value)


def test_the_data_volume_belongs_to_the_user_the_image_runs_as() -> None:
    steps = dockerfile()
    volume = steps.index(("VOLUME", "/data"))
    user = steps.index(("USER", "tellwell"))
    owned = [
        i
        for i, (step, args) in enumerate(steps)
        if step == "RUN" and "mkdir /data" in args and "chown tellwell:tellwell /data" in args
    ]
    assert owned and owned[0] < volume, "changes to /data after VOLUME are discarded"
    assert user < volume
    assert ("ENV", "TELLWELL_DATA_DIR=/data") in steps
    for name in TELLWELL_SERVICES:
        assert any(v.endswith(":/data") for v in compose()["services"][name]["volumes"]), name
    installs = [args for step, args in steps if step == "RUN" and "apt-get install" in args]
    assert installs and all("--no-install-recommends" in args for args in installs)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], request: pytest.FixtureRequest) -> Settings:
    return make_settings(redis_url=getattr(request, "param", ""))


@pytest.mark.parametrize(
    ("database_url", "settings", "healthy"),
    [
        ("sqlite", "", True),
        ("sqlite", UNREACHABLE_REDIS, False),
    ],
    indirect=["database_url", "settings"],
    ids=["ready", "redis-down"],
)
def test_the_api_health_checks_follow_readyz(
    live_server: LiveServer, settings: Settings, healthy: bool
) -> None:
    readyz = live_server.get("/readyz")
    assert readyz.status_code == (200 if healthy else 503)
    for source, command in healthcheck_commands().items():
        argv = [sys.executable if command[0] == "python" else command[0], *command[1:]]
        argv = [arg.replace(IMAGE_URL, urlsplit(live_server.url).netloc) for arg in argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert (done.returncode == 0) == healthy, (source, done.stderr)


def docker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DOCKER_UP_TIMEOUT_S,
        check=False,
    )


def test_the_stack_comes_up_healthy_in_docker() -> None:
    if shutil.which("docker") is None or docker("info", env=dict(os.environ)).returncode:
        pytest.skip("no Docker daemon here: the compose file was checked as data only")
    port = free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"tellwell-test-{secrets.token_hex(4)}",
        "TELLWELL_SECRET_KEY": secrets.token_urlsafe(48),
        "TELLWELL_PORT": str(port),
    }
    try:
        up = docker("compose", "up", "--build", "--detach", "--wait", env=env)
        assert up.returncode == 0, up.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        states = docker("compose", "ps", "--all", "--format", "json", env=env).stdout
        # One JSON object per line; compose before 2.21 printed one array instead.
        rows = (
            json.loads(states) if states.startswith("[") else map(json.loads, states.splitlines())
        )
        by_service = {row["Service"]: row for row in rows}
        assert by_service["migrate"]["ExitCode"] == 0
        for name in ("api", "worker"):
            assert by_service[name]["Health"] == "healthy", by_service[name]
        wrote = docker("compose", "exec", "api", "touch", "/data/written", env=env)
        assert wrote.returncode == 0, wrote.stderr
    finally:
        docker("compose", "down", "--volumes", env=env)
