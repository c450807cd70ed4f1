"""The HTTP shell refuses request bodies over its limit with 413, before reading them whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from runtime.http import (
    CORRELATION_HEADER,
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimit,
    create_http_app,
    max_body_bytes_from_env,
)

LIMIT = 1024


class Echo(BaseModel):
    text: str


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


async def _ready() -> dict[str, bool]:
    return {"ok": True}


def _app(limit: int | None = LIMIT) -> FastAPI:
    app = create_http_app(
        title="t", description="d", lifespan=_no_lifespan, readiness=_ready, max_body_bytes=limit
    )

    @app.post("/echo")
    async def echo(body: Echo) -> dict[str, int]:
        return {"length": len(body.text)}

    return app


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _body(size: int) -> bytes:
    """A JSON body of exactly `size` bytes."""
    overhead = len(b'{"text":""}')
    return b'{"text":"' + b"x" * (size - overhead) + b'"}'


async def _chunks(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_at_the_limit_is_accepted() -> None:
    async with _client(_app()) as client:
        response = await client.post(
            "/echo", content=_body(LIMIT), headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"length": LIMIT - len(b'{"text":""}')}


async def test_a_declared_content_length_over_the_limit_is_refused_up_front() -> None:
    async with _client(_app()) as client:
        response = await client.post(
            "/echo", content=_body(LIMIT + 1), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": f"request body exceeds {LIMIT} bytes",
    }
    assert response.headers[CORRELATION_HEADER]  # logged and correlated like any other answer


async def test_a_chunked_body_is_counted_as_it_streams_and_refused_once_over() -> None:
    async with _client(_app()) as client:
        response = await client.post(
            "/echo",
            content=_chunks(_body(LIMIT * 10)),
            headers={"content-type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_a_chunked_body_within_the_limit_passes() -> None:
    async with _client(_app()) as client:
        response = await client.post(
            "/echo", content=_chunks(_body(LIMIT)), headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text


async def test_the_middleware_alone_stops_reading_and_never_buffers_past_the_limit() -> None:
    """Without FastAPI around it: the middleware itself answers 413 and stops pulling chunks."""
    pulled: list[int] = []
    chunk = b"y" * 100

    async def receive() -> dict[str, Any]:
        pulled.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}  # endless

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        buffered = b""
        while True:
            message = await receive()
            buffered += message.get("body", b"")
            if not message.get("more_body"):
                break

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimit(app, max_body_bytes=LIMIT)(scope, receive, send)

    assert sum(pulled) <= LIMIT + len(chunk)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert b"payload_too_large" in b"".join(m.get("body", b"") for m in sent[1:])


async def test_requests_without_a_body_and_other_scopes_pass_untouched() -> None:
    async with _client(_app()) as client:
        assert (await client.get("/healthz")).status_code == 200

    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, Any]:
        return {}

    await BodySizeLimit(app, max_body_bytes=1)({"type": "lifespan"}, nothing, nothing)
    assert seen == ["lifespan"]


async def test_a_long_or_odd_correlation_id_is_replaced_not_carried_into_events() -> None:
    async with _client(_app()) as client:
        kept = await client.get("/healthz", headers={CORRELATION_HEADER: "req-42"})
        long = await client.get("/healthz", headers={CORRELATION_HEADER: "c" * 129})
        odd = await client.get("/healthz", headers={CORRELATION_HEADER: "a b"})
    assert kept.headers[CORRELATION_HEADER] == "req-42"
    assert long.headers[CORRELATION_HEADER] != "c" * 129
    assert len(long.headers[CORRELATION_HEADER]) <= 128
    assert odd.headers[CORRELATION_HEADER] != "a b"


def test_the_limit_defaults_to_256_kib_and_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HTTP_MAX_BODY_BYTES", raising=False)
    assert max_body_bytes_from_env() == DEFAULT_MAX_BODY_BYTES == 256 * 1024
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "4096")
    assert max_body_bytes_from_env() == 4096
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "0")
    with pytest.raises(ValueError, match="HTTP_MAX_BODY_BYTES"):
        max_body_bytes_from_env()


async def test_the_environment_sets_the_limit_of_a_service_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "64")
    async with _client(_app(limit=None)) as client:
        response = await client.post(
            "/echo", content=_body(65), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
