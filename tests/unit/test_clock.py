"""The controllable clock: forward only, shared through one document, served only when allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import DuplicateKeyError

from runtime.auth import load_tokens
from runtime.clock import ControlledClock, SystemClock, clock_router
from runtime.errors import Conflict
from runtime.http import create_http_app
from runtime.kafka import EventProducer
from runtime.kafka_connection import KafkaConnection
from runtime.mongo import connect
from runtime.persistence import Persistence
from runtime.service import ServiceRuntime
from runtime.settings import REPO_ROOT, ServiceSettings
from runtime.timers import Timers

OPERATIONS = {"Authorization": "Bearer dev-operations-token"}


class OneDocument:
    """The two calls the clock makes on its collection, with MongoDB's upsert semantics."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] | None = None

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return dict(self.doc) if self.doc and self.doc["_id"] == query["_id"] else None

    async def update_one(
        self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False
    ) -> None:
        if self.doc is None:
            self.doc = {"_id": query["_id"], **update["$set"]}
        elif self.doc["offset"] <= query["offset"]["$lte"]:
            self.doc.update(update["$set"])
        elif upsert:
            raise DuplicateKeyError("E11000 duplicate key")


def test_the_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo == UTC
    assert abs((datetime.now(UTC) - now).total_seconds()) < 1


async def test_setting_the_clock_moves_it_forward_and_it_keeps_running() -> None:
    clock = ControlledClock(OneDocument())  # type: ignore[arg-type]
    target = datetime(2027, 1, 4, 9, tzinfo=UTC)
    assert await clock.set(target) == target
    assert timedelta(0) <= clock.now() - target < timedelta(seconds=1)


async def test_the_clock_never_runs_backwards() -> None:
    clock = ControlledClock(OneDocument())  # type: ignore[arg-type]
    await clock.set(datetime(2027, 1, 4, 9, tzinfo=UTC))
    with pytest.raises(Conflict):
        await clock.set(datetime(2027, 1, 4, 8, tzinfo=UTC))
    with pytest.raises(Conflict):
        await clock.set(datetime.now(UTC) - timedelta(days=1))


async def test_a_second_replica_sees_the_offset_after_refreshing_and_checks_against_it() -> None:
    shared = OneDocument()
    first, second = ControlledClock(shared), ControlledClock(shared)  # type: ignore[arg-type]
    target = datetime(2027, 6, 1, tzinfo=UTC)
    await first.set(target)
    assert second.now() < target
    await second.refresh()
    assert second.now() >= target
    with pytest.raises(Conflict):
        await second.set(datetime(2027, 5, 1, tzinfo=UTC))


async def test_a_stale_replica_setting_an_earlier_moment_is_refused() -> None:
    shared = OneDocument()
    first, second = ControlledClock(shared), ControlledClock(shared)  # type: ignore[arg-type]
    await first.set(datetime(2027, 6, 1, tzinfo=UTC))
    # `second` has not refreshed, but `set` refreshes before it compares.
    with pytest.raises(Conflict):
        await second.set(datetime(2027, 3, 1, tzinfo=UTC))
    assert shared.doc is not None
    assert first.now() >= datetime(2027, 6, 1, tzinfo=UTC)


async def test_refresh_never_adopts_a_smaller_offset() -> None:
    shared = OneDocument()
    clock = ControlledClock(shared)  # type: ignore[arg-type]
    await clock.set(datetime(2027, 6, 1, tzinfo=UTC))
    assert shared.doc is not None
    shared.doc["offset"] = 0.0  # a concurrent smaller write, for a moment
    await clock.refresh()
    assert clock.now() >= datetime(2027, 6, 1, tzinfo=UTC)


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


async def _ready() -> dict[str, bool]:
    return {"ok": True}


def _client(clock: ControlledClock | None) -> httpx.AsyncClient:
    app = create_http_app(title="t", description="d", lifespan=_no_lifespan, readiness=_ready)
    app.state.tokens = load_tokens(REPO_ROOT / "deploy" / "local" / "dev-tokens.json")
    if clock is not None:
        app.include_router(clock_router(clock))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_post_admin_clock_answers_the_new_now() -> None:
    clock = ControlledClock(OneDocument())  # type: ignore[arg-type]
    async with _client(clock) as http:
        answer = await http.post(
            "/admin/clock", json={"now": "2027-01-04T09:00:00+00:00"}, headers=OPERATIONS
        )
        assert answer.status_code == 200
        assert datetime.fromisoformat(answer.json()["now"]) == datetime(2027, 1, 4, 9, tzinfo=UTC)

        earlier = {"now": "2027-01-04T08:00:00Z"}
        assert (
            await http.post("/admin/clock", json=earlier, headers=OPERATIONS)
        ).status_code == 409
        naive = {"now": "2027-02-01T09:00:00"}
        assert (await http.post("/admin/clock", json=naive, headers=OPERATIONS)).status_code == 422
        later = {"now": "2027-02-01T09:00:00Z"}
        assert (await http.post("/admin/clock", json=later)).status_code == 401
        provider = {"Authorization": "Bearer dev-provider-p01-token"}
        assert (await http.post("/admin/clock", json=later, headers=provider)).status_code == 403


async def test_without_clock_control_the_endpoint_is_not_there() -> None:
    async with _client(None) as http:
        answer = await http.post(
            "/admin/clock", json={"now": "2027-01-04T09:00:00Z"}, headers=OPERATIONS
        )
        assert answer.status_code == 404


def _runtime(allow_clock_control: bool) -> ServiceRuntime:
    settings = ServiceSettings(service_name="t", allow_clock_control=allow_clock_control)
    client = connect("mongodb://127.0.0.1:1")  # never used: nothing here reaches the database
    persistence = Persistence.of(client["t"])
    clock = ControlledClock(persistence.db["clock"]) if allow_clock_control else SystemClock()
    return ServiceRuntime(
        settings=settings,
        producer=EventProducer(KafkaConnection("127.0.0.1:1"), "t"),
        client=client,
        persistence=persistence,
        clock=clock,
    )


@pytest.mark.parametrize("allowed", [True, False])
def test_the_service_mounts_the_clock_route_only_when_allowed(allowed: bool) -> None:
    runtime = _runtime(allowed)
    app = runtime.http_app(title="t", description="d")
    assert ("/admin/clock" in app.openapi()["paths"]) is allowed


def test_timers_start_a_loop_with_the_service_clock() -> None:
    runtime = _runtime(True)
    timers = runtime.timers({"deadline": _noop})
    assert isinstance(timers, Timers)
    assert len(runtime.background) == 1, "the loop runs in the service's background"


async def _noop(timer: object) -> None:
    return None
