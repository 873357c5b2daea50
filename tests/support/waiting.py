"""Waiting for something another thread or process does, without guessing a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

WAIT_STEP_S = 0.05


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(WAIT_STEP_S)
    pytest.fail(f"condition not met within {timeout_s} s")
