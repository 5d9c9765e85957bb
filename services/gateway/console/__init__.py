"""The web console: static pages the gateway serves at /console/, no build step.

The pages call the gateway's own /v1 endpoints with the API key the person
signs in with (kept in the tab's sessionStorage, sent as a header, never in a
URL). See docs/console.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"
CONSOLE_PATH = "/console"
# Scripts and styles only from the gateway itself; no frames, no referrer.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def mount_console(app: FastAPI) -> None:
    app.mount(CONSOLE_PATH, ConsoleFiles(directory=STATIC, html=True), name="console")
