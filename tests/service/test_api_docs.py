"""The API's own page works on a closed network: Swagger UI from this server only.

Chromium opens them with every request to anywhere but this server aborted, as on a
hospital network with no way out, and must still show the operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Route

from tests.support.api import LiveServer

ICO_SIGNATURE = b"\x00\x00\x01\x00"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class ClosedNetwork:
    """A browser context that reaches the live server and nothing else."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.server_netloc = urlsplit(server.url).netloc
        self.blocked: list[str] = []
        self.context: BrowserContext = browser.new_context()
        self.context.route("**/*", self._only_the_server)

    def _only_the_server(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.server_netloc:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


@pytest.fixture
def closed_network(browser: Browser, live_server: LiveServer) -> Iterator[ClosedNetwork]:
    network = ClosedNetwork(browser, live_server)
    yield network
    network.context.close()


def test_swagger_ui_renders_the_operations_offline(
    closed_network: ClosedNetwork, live_server: LiveServer
) -> None:
    page = closed_network.context.new_page()
    response = page.goto(f"{live_server.url}/docs")
    assert response is not None and response.status == 200

    create = page.locator('.opblock-post .opblock-summary-path[data-path="/v1/reminders"]')
    create.wait_for(state="visible")
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Tellwell")
    assert closed_network.blocked == []


def test_the_favicon_is_an_icon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")
    assert response.content.startswith(ICO_SIGNATURE)
