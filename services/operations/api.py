"""HTTP routes of the operations service: map HTTP to a command (`commands.py`), nothing more.

Every answer is confined to the caller's partnership (national operations, `*`, sees all) and
carries counts and pseudonymous ids only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from runtime.clock import Clock
from runtime.decoding import Poison, decode_envelope
from runtime.kafka_connection import KafkaConnection
from runtime.partnerships import Partnerships
from services.operations import commands, kafka_tools, tail_view
from services.operations.access import Caller
from services.operations.kpis import MEASURES
from services.operations.redrive import Redrives
from services.operations.store import OperationsStore
from services.operations.targets import TargetBody

Measure = Literal[MEASURES]  # type: ignore[valid-type]
By = Literal["ward", "priority_group", "provider", "sector", "month", "local_authority"]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]


@dataclass
class Deps:
    store: OperationsStore
    redrives: Redrives
    partnerships: Partnerships
    clock: Clock
    kafka: KafkaConnection
    topics: list[str]
    dlq_topics: list[str]
    redrive_rate: float


def build_router(d: Deps) -> APIRouter:
    router = APIRouter()

    # --- streams ------------------------------------------------------------------------

    @router.get("/streams/lag", tags=["streams"])
    async def lag(_: Caller) -> list[dict[str, Any]]:
        """Every consumer group: per partition the committed offset, the end and the lag."""
        return await kafka_tools.lag(d.kafka)

    @router.get("/streams/tail", tags=["streams"])
    async def tail(
        request: Request,
        principal: Caller,
        topic: str | None = None,
        type: str | None = None,
        subject: str | None = None,
    ) -> StreamingResponse:
        """Server-sent events of records as they arrive (`data:` one CloudEvent as JSON),
        reduced as an employer would see them unless the caller is operations."""
        topics = [t for t in d.topics if not topic or t == topic]

        async def events() -> AsyncIterator[str]:
            yield ": tailing\n\n"
            async for record in kafka_tools.tail(d.kafka, topics):
                if await request.is_disconnected():
                    return
                if record is None:
                    yield ": keep-alive\n\n"
                    continue
                event = decode_envelope(record.value)
                if isinstance(event, Poison) or not tail_view.matches(event, type, subject):
                    continue
                try:
                    shown = tail_view.view(event, principal)
                except (KeyError, TypeError, ValueError):
                    continue  # data not shaped as its type says: nothing safe to show
                if shown is not None:
                    body = json.dumps({"topic": record.topic, "event": shown})
                    yield f"event: record\ndata: {body}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # --- dead letters ---------------------------------------------------------------------

    @router.get("/dlq", tags=["dead letters"])
    async def dlq(principal: Caller, dlq_topic: str | None = None) -> list[dict[str, Any]]:
        topics = [t for t in d.dlq_topics if not dlq_topic or t == dlq_topic]
        letters = await commands.dead_letters(d.store, principal, d.partnerships, d.kafka, topics)
        return [x.describe() for x in letters]

    @router.post("/dlq/redrive", status_code=202, tags=["dead letters"])
    async def redrive(principal: Caller, body: commands.RedriveBody) -> dict[str, Any]:
        task = await commands.redrive(
            d.store,
            d.redrives,
            principal,
            d.partnerships,
            d.kafka,
            d.dlq_topics,
            body,
            d.redrive_rate,
        )
        return {"task_id": task.task_id, "total": task.total}

    @router.get("/dlq/redrive/{task_id}", tags=["dead letters"])
    async def redrive_progress(principal: Caller, task_id: str) -> dict[str, Any]:
        return (await commands.redrive_task(d.redrives, principal, task_id)).progress()

    @router.post("/dlq/redrive/{task_id}/cancel", tags=["dead letters"])
    async def cancel_redrive(principal: Caller, task_id: str) -> dict[str, Any]:
        await commands.redrive_task(d.redrives, principal, task_id)
        return (await d.redrives.cancel(task_id)).progress()

    # --- caseloads and journeys ---------------------------------------------------------------

    @router.get("/clients/{client_id}/timeline", tags=["caseloads"])
    async def timeline(principal: Caller, client_id: str) -> list[dict[str, Any]]:
        return await commands.timeline(d.store, principal, client_id)

    @router.put("/caseloads/{caseload_id}", tags=["caseloads"])
    async def put_caseload(
        principal: Caller,
        caseload_id: Annotated[str, Path(min_length=1, max_length=64)],
        body: commands.CaseloadBody,
    ) -> dict[str, Any]:
        c = await commands.put_caseload(d.store, principal, caseload_id, body)
        return c.model_dump(exclude={"key"})

    @router.get("/caseloads/{caseload_id}", tags=["caseloads"])
    async def get_caseload(principal: Caller, caseload_id: str) -> dict[str, Any]:
        c = await commands.caseload(d.store, principal, caseload_id)
        return c.model_dump(exclude={"key"})

    @router.get("/caseloads/{caseload_id}/members", tags=["caseloads"])
    async def members(
        principal: Caller, caseload_id: str, ward: str | None = None, stage: str | None = None
    ) -> list[dict[str, Any]]:
        return await commands.members(d.store, principal, caseload_id, ward, stage)

    @router.get("/journeys", tags=["caseloads"])
    async def journeys(
        principal: Caller,
        ward: str | None = None,
        priority_group: str | None = None,
        local_authority: str | None = None,
        start: From = None,
        end: To = None,
    ) -> dict[str, int]:
        return await commands.journeys(
            d.store,
            principal,
            ward=ward,
            priority_group=priority_group,
            local_authority=local_authority,
            start=start,
            end=end,
        )

    # --- KPIs, targets, fairness ------------------------------------------------------------

    @router.get("/kpis", tags=["kpis"])
    async def kpis(
        principal: Caller,
        measure: Measure,
        by: By = "month",
        start: From = None,
        end: To = None,
    ) -> list[dict[str, Any]]:
        return await commands.kpis(d.store, principal, d.partnerships, measure, by, start, end)

    @router.get("/kpis.csv", tags=["kpis"], response_class=PlainTextResponse)
    async def kpis_csv(
        principal: Caller,
        measure: Measure,
        by: By = "month",
        start: From = None,
        end: To = None,
    ) -> PlainTextResponse:
        rows = await commands.kpis(d.store, principal, d.partnerships, measure, by, start, end)
        return PlainTextResponse(commands.as_csv(measure, by, rows), media_type="text/csv")

    @router.put("/targets/{ref}", tags=["targets"])
    async def put_target(
        principal: Caller,
        ref: Annotated[str, Path(min_length=1, max_length=64)],
        body: TargetBody,
    ) -> dict[str, Any]:
        t = await commands.put_target(d.store, principal, ref, body)
        return t.model_dump(mode="json", exclude={"key"})

    @router.get("/targets", tags=["targets"])
    async def targets(principal: Caller) -> list[dict[str, object]]:
        return await commands.targets(d.store, principal, d.partnerships, d.clock.now())

    @router.get("/fairness", tags=["fairness"])
    async def fairness(
        principal: Caller,
        measure: Literal["shortlisted", "placed"] = "shortlisted",
        start: From = None,
        end: To = None,
    ) -> list[dict[str, object]]:
        return await commands.fairness(d.store, principal, d.partnerships, measure, start, end)

    return router
