"""Signing in to the console the way a browser does: read the form's token, post it back."""

from __future__ import annotations

import re

import httpx

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: httpx.Client, api_key: str) -> str:
    """Sign in with ``api_key`` (an in-process ``TestClient`` or a client of a live server);
    returns the session's CSRF token for later forms."""
    token = csrf_of(client.get("/console/sign-in").text)
    response = client.post(
        "/console/sign-in",
        data={"api_key": api_key, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/console/preview")
    page = client.get("/console/preview")
    assert page.status_code == 200
    return csrf_of(page.text)
