"""Serving an ASGI app with uvicorn on a loopback port, for truly concurrent requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.support.api import LiveServer
from tests.support.waiting import wait_for

START_TIMEOUT_S = 15.0


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
