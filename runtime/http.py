"""The HTTP shell every service shares: health, readiness, error shapes, correlation ids,
and a bound on the size of request bodies."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import metrics
from runtime.errors import DomainError

log = structlog.get_logger(__name__)

Readiness = Callable[[], Awaitable[dict[str, bool]]]

CORRELATION_HEADER = "X-Correlation-Id"
# A caller's correlation id is carried into every event the request causes, so only a short,
# plain one is taken; anything else is replaced by a fresh id.
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

MAX_BODY_BYTES_ENV = "HTTP_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
"""Above any valid body: the largest, a vacancy's person specification at its bounds, is
~41 KB of plain text and ~241 KB were every character a JSON escape. Far below Kafka's 1 MB."""

_ERROR_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
}


def _error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": _ERROR_CODES.get(status, "error"), "message": message, **extra}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(_error_body(status, message, **extra), status_code=status)


def max_body_bytes_from_env() -> int:
    """`HTTP_MAX_BODY_BYTES` if set (a positive integer), else the default of 256 KiB."""
    raw = os.environ.get(MAX_BODY_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{MAX_BODY_BYTES_ENV} must be a positive number of bytes")
    return value


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes the limit.

    An HTTPException, so FastAPI's body parsing passes it on unchanged and the app renders it
    like every other error; `BodySizeLimit` renders it itself if nothing else did.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class BodySizeLimit:
    """Pure ASGI middleware: refuse a request body over `max_body_bytes` with 413.

    A declared `Content-Length` over the limit is refused before a byte of the body is read.
    A body without one (chunked) is counted as it streams, and refused as soon as it passes
    the limit: the app never holds more than the limit plus the one chunk that crossed it.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(scope, send, limit)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_too_large(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one; count the body instead
    return None


async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
    response = _error(413, str(BodyTooLarge(limit).detail))
    # The rest of the body is not read: tell the client the connection will not be reused.
    response.headers["Connection"] = "close"
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def create_http_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Readiness,
    asyncapi: Callable[[], dict[str, Any]] | None = None,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """Args:
    max_body_bytes: the largest request body accepted (413 beyond it); by default
        `HTTP_MAX_BODY_BYTES` from the environment, else 256 KiB.
    """
    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan)
    # Added before `correlate`, so it runs inside it: a 413 is logged and correlated too.
    app.add_middleware(
        BodySizeLimit,
        max_body_bytes=max_body_bytes if max_body_bytes is not None else max_body_bytes_from_env(),
    )

    @app.middleware("http")
    async def correlate(request: Request, call_next: Callable[..., Awaitable[Any]]) -> Any:
        offered = request.headers.get(CORRELATION_HEADER, "")
        correlation_id = offered if _CORRELATION_ID.match(offered) else str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        response.headers[CORRELATION_HEADER] = correlation_id
        if request.url.path not in ("/healthz", "/readyz", "/metrics"):
            # Method, path and status only: bodies and query strings may hold personal data.
            log.info(
                "http.request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                correlation_id=correlation_id,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return response

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        extra = {"fields": [{"field": exc.field, "message": exc.message}]} if exc.field else {}
        body = _error_body(exc.status_code, exc.message, **extra, **exc.details)
        if exc.error:
            body["error"] = exc.error
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        names = ", ".join(f["field"] for f in fields)
        return _error(422, f"invalid request: {names}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Kafka and the database are connected")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics of this process")
    async def prometheus_metrics() -> Response:
        # No auth, like /healthz: counts per topic and type only, nothing about a person.
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    if asyncapi is not None:
        document = asyncapi

        @app.get("/asyncapi.json", tags=["docs"], summary="AsyncAPI document of the topics")
        async def asyncapi_json() -> dict[str, Any]:
            return document()

    return app
