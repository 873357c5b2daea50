"""The API's own page, served wholly from this process: Swagger UI, and the favicon.

FastAPI's stock ``/docs`` loads Swagger UI from a CDN, so on a closed hospital network it
is blank. Here the same page loads it from the ``fastapi-offline`` package, mounted under
``/docs/assets``; nothing leaves the network. ReDoc is off: even served locally it fetches
its logo from its maker's CDN. ``/favicon.ico`` spares every browser tab a 404.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
"""Swagger UI's browser bundle, as the fastapi-offline package ships it."""
FAVICON_PATH = "/favicon.ico"
FAVICON_FILE = Path(__file__).parent / "static" / "favicon.ico"
FAVICON_MAX_AGE_S = 7 * 24 * 3600


def install(app: FastAPI) -> None:
    """Add ``/docs`` and ``/favicon.ico``; create the app with docs_url and redoc_url None."""
    if app.docs_url or app.redoc_url:
        raise ValueError("create the app with docs_url=None and redoc_url=None")
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs_assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=FAVICON_PATH,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(FAVICON_PATH, include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(
            FAVICON_FILE,
            media_type="image/vnd.microsoft.icon",
            headers={"Cache-Control": f"public, max-age={FAVICON_MAX_AGE_S}"},
        )
