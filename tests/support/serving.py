"""Serving the app on a loopback port: in a uvicorn thread, or as a ``tellwell serve`` process."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from tests.support.api import LiveServer
from tests.support.waiting import wait_for

START_TIMEOUT_S = 15.0
PROCESS_START_TIMEOUT_S = 90.0
"""A fresh process imports the whole service first: slow on a busy machine, never stuck."""


@contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[LiveServer]:
    """``app`` served by uvicorn on 127.0.0.1:``port`` until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=START_TIMEOUT_S)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)


@contextmanager
def tellwell_serve(env: dict[str, str], port: int, log: Path) -> Iterator[LiveServer]:
    """A real ``tellwell serve`` process on 127.0.0.1:``port``, its stderr written to ``log``.

    Stopped (SIGTERM, as a process manager would) when the block ends, so ``log`` then
    holds everything it said.
    """
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_for(lambda: process.poll() is not None or _answers(url), PROCESS_START_TIMEOUT_S)
            assert process.poll() is None, log.read_text()[-3000:]
            yield LiveServer(url=url)
        finally:
            process.terminate()
            process.wait(timeout=PROCESS_START_TIMEOUT_S)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False
