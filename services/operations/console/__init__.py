"""The operations console: one static page, its script and its style, served by the service.

The page holds no data and needs no token to load; everything it shows comes from the service's
JSON API, called by the script with the bearer token the user signed in with (kept in the tab's
`sessionStorage`, never in an address). The Content-Security-Policy admits this origin's script
and style only, so nothing injected into a page could run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


def _serve(name: str) -> Response:
    # Read on each request (three small files): an edited console shows without a restart.
    return Response((STATIC / name).read_bytes(), media_type=_FILES[name], headers=SECURITY_HEADERS)


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> Response:
        return _serve("index.html")

    @router.get("/console/app.js")
    async def script() -> Response:
        return _serve("app.js")

    @router.get("/console/app.css")
    async def style() -> Response:
        return _serve("app.css")

    return router
