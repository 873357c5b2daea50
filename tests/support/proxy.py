"""A stand-in for a reverse proxy that serves the app under a path prefix.

Like nginx's ``location /tw/ { proxy_pass http://app/; }``: a request for ``/tw/x`` reaches
the app as ``/x``; anything outside the prefix never reaches the app (404).
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class PrefixStrippingProxy:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            await PlainTextResponse("not behind this proxy", status_code=404)(scope, receive, send)
            return
        inner = path[len(self.prefix) :] or "/"
        await self.app(dict(scope, path=inner, raw_path=inner.encode()), receive, send)
