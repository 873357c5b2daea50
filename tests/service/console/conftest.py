"""The console's page tests share one kind of browser tab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab in a fresh context (no cookies from another test), closed afterwards."""
    context = browser.new_context()
    tab = context.new_page()
    yield tab
    context.close()
