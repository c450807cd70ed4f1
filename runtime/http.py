"""The HTTP shell every service shares: health, readiness, error shapes, correlation ids."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.errors import DomainError

log = structlog.get_logger(__name__)

Readiness = Callable[[], Awaitable[dict[str, bool]]]

CORRELATION_HEADER = "X-Correlation-Id"
_ERROR_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "validation_failed",
}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    body = {"error": _ERROR_CODES.get(status, "error"), "message": message, **extra}
    return JSONResponse(body, status_code=status)


def create_http_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Readiness,
    asyncapi: Callable[[], dict[str, Any]] | None = None,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan)

    @app.middleware("http")
    async def correlate(request: Request, call_next: Callable[..., Awaitable[Any]]) -> Any:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        response.headers[CORRELATION_HEADER] = correlation_id
        if request.url.path not in ("/healthz", "/readyz"):
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
        return _error(exc.status_code, exc.message, **extra)

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

    if asyncapi is not None:
        document = asyncapi

        @app.get("/asyncapi.json", tags=["docs"], summary="AsyncAPI document of the topics")
        async def asyncapi_json() -> dict[str, Any]:
            return document()

    return app
