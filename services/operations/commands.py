"""What the operations endpoints do, HTTP aside: each a function of the store, the caller and,
where time matters, `now` from the service's clock."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from runtime.documents import AlreadyExists, StaleAggregate
from runtime.errors import Conflict, Invalid, NotFound
from runtime.kafka_connection import KafkaConnection
from runtime.partnerships import Partnerships
from runtime.principal import Principal
from schemas.types import Benefit, PriorityGroup, ShortText
from services.operations import dead_letters as dl
from services.operations import journeys as jy
from services.operations import kafka_tools, reports
from services.operations.clients import STAGES, ClientView, visible_timeline
from services.operations.redrive import Redrives, RedriveTask
from services.operations.store import Caseload, OperationsStore, StoredTarget
from services.operations.targets import TargetBody


class CaseloadBody(BaseModel):
    name: ShortText
    local_authorities: list[ShortText] = Field(default_factory=list, max_length=50)
    wards: list[ShortText] = Field(default_factory=list, max_length=200)
    benefits: list[Benefit] = Field(default_factory=list, max_length=10)
    priority_groups_any: list[PriorityGroup] = Field(default_factory=list, max_length=10)


class Offset(BaseModel):
    partition: int = Field(ge=0, le=10_000)
    offset: int = Field(ge=0)


class RedriveBody(BaseModel):
    dlq_topic: str = Field(min_length=1, max_length=200)
    offsets: list[Offset] = Field(default_factory=list, max_length=100_000)
    all: bool = False
    max_per_second: float | None = Field(default=None, gt=0, le=10_000)


# --- clients, caseloads, journeys -------------------------------------------------------------


async def timeline(store: OperationsStore, principal: Principal, client_id: str) -> list[dict]:
    loaded = await store.clients.get(client_id)
    client = loaded.aggregate if loaded else None
    if client is None or not principal.sees(client.partnership) or "tracking" not in client.scopes:
        raise NotFound("no such client")  # also without `tracking` consent: nothing to show
    return [t.model_dump(mode="json") for t in visible_timeline(client)]


def _key(principal: Principal, caseload_id: str) -> str:
    return f"{principal.partnership}|{caseload_id}"


async def put_caseload(
    store: OperationsStore, principal: Principal, caseload_id: str, body: CaseloadBody
) -> Caseload:
    caseload = Caseload(
        key=_key(principal, caseload_id),
        caseload_id=caseload_id,
        partnership=principal.partnership,
        **body.model_dump(),
    )
    for _ in range(5):
        loaded = await store.caseloads.get(caseload.key)
        try:
            if loaded is None:
                await store.caseloads.add(caseload)
            else:
                loaded.aggregate = caseload
                await store.caseloads.save(loaded)
            return caseload
        except (AlreadyExists, StaleAggregate):
            continue
    raise Conflict("the caseload was changed concurrently; try again")


async def caseload(store: OperationsStore, principal: Principal, caseload_id: str) -> Caseload:
    loaded = await store.caseloads.get(_key(principal, caseload_id))
    if loaded is None:
        raise NotFound("no such caseload")
    return loaded.aggregate


def _scope(principal: Principal) -> list[str] | None:
    return None if principal.national else [principal.partnership]


async def members(
    store: OperationsStore,
    principal: Principal,
    caseload_id: str,
    ward: str | None,
    stage: str | None,
) -> list[dict[str, object]]:
    if stage is not None and stage not in STAGES:
        raise Invalid(f"stage is one of {', '.join(STAGES)}")
    c = await caseload(store, principal, caseload_id)
    found = []
    for client in await store.clients_of(_scope(principal)):
        if not _known(client) or not jy.in_caseload(
            client,
            local_authorities=c.local_authorities,
            wards=c.wards,
            benefits=c.benefits,
            priority_groups_any=c.priority_groups_any,
        ):
            continue
        if ward and not jy.in_caseload(client, wards=[ward]):
            continue
        row = jy.member(client)
        if stage and row["stage"] != stage:
            continue
        found.append(row)
    return sorted(found, key=lambda r: str(r["client_id"]))


def _known(client: ClientView) -> bool:
    """Registered (seen `referrals.client.registered`), not merely mentioned by a match."""
    return client.registered_at is not None


async def journeys(
    store: OperationsStore,
    principal: Principal,
    *,
    ward: str | None,
    priority_group: str | None,
    local_authority: str | None,
    start: date | None,
    end: date | None,
) -> dict[str, int]:
    clients = [c for c in await store.clients_of(_scope(principal)) if _known(c)]
    return jy.journeys(
        clients,
        ward=ward,
        priority_group=priority_group,
        local_authority=local_authority,
        start=start,
        end=end,
    )


# --- KPIs, targets, fairness -----------------------------------------------------------------


async def kpis(
    store: OperationsStore,
    principal: Principal,
    partnerships: Partnerships,
    measure: str,
    by: str,
    start: date | None,
    end: date | None,
) -> list[dict[str, Any]]:
    scope = reports.scope(principal, partnerships)
    return await reports.kpi(store.reader, scope, measure, by, start, end)


def as_csv(measure: str, by: str, rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["measure", "by", "key", "value"])
    for row in rows:
        writer.writerow([measure, by, row["key"], row["value"]])
    return out.getvalue()


async def put_target(
    store: OperationsStore, principal: Principal, ref: str, body: TargetBody
) -> StoredTarget:
    target = StoredTarget(
        key=f"{principal.partnership}|{ref}",
        ref=ref,
        partnership=principal.partnership,
        **body.model_dump(),
    )
    for _ in range(5):
        loaded = await store.targets.get(target.key)
        try:
            if loaded is None:
                await store.targets.add(target)
            else:
                loaded.aggregate = target
                await store.targets.save(loaded)
            return target
        except (AlreadyExists, StaleAggregate):
            continue
    raise Conflict("the target was changed concurrently; try again")


async def targets(
    store: OperationsStore, principal: Principal, partnerships: Partnerships, now: datetime
) -> list[dict[str, object]]:
    scope = reports.scope(principal, partnerships)
    return [
        await reports.target_report(store.reader, t, scope, now)
        for t in await store.targets_of(principal.partnership)
    ]


async def fairness(
    store: OperationsStore,
    principal: Principal,
    partnerships: Partnerships,
    measure: str,
    start: date | None,
    end: date | None,
) -> list[dict[str, object]]:
    scope = reports.scope(principal, partnerships)
    table = await reports.fairness_table(store.reader, scope, measure, start, end)
    return [row.as_dict() for row in table]


# --- dead letters -----------------------------------------------------------------------------


async def dead_letters(
    store: OperationsStore,
    principal: Principal,
    partnerships: Partnerships,
    kafka: KafkaConnection,
    dlq_topics: Sequence[str],
) -> list[dl.DeadLetter]:
    """Every dead letter the caller may see: those whose bytes name its partnership
    (national operations: all, poison that names none included)."""
    letters = await kafka_tools.read_all(kafka, dlq_topics)
    done = {d["_id"] async for d in store.redriven.find({}, {"_id": 1})} if letters else set()
    seen = []
    for x in letters:
        partnership = dl.partnership_of(x.value, partnerships)
        if principal.national or (partnership is not None and principal.sees(partnership)):
            seen.append(
                dl.DeadLetter(
                    x.dlq_topic,
                    x.partition,
                    x.offset,
                    x.value,
                    x.key,
                    x.headers,
                    redriven=x.ref in done,
                    partnership=partnership,
                )
            )
    return seen


async def redrive(
    store: OperationsStore,
    redrives: Redrives,
    principal: Principal,
    partnerships: Partnerships,
    kafka: KafkaConnection,
    dlq_topics: Sequence[str],
    body: RedriveBody,
    default_rate: float,
) -> RedriveTask:
    if body.dlq_topic not in dlq_topics:
        raise Invalid("dlq_topic names no dead-letter topic of the platform")
    if body.all == bool(body.offsets):
        raise Invalid("give either offsets or all: true")
    letters = await dead_letters(store, principal, partnerships, kafka, [body.dlq_topic])
    if body.all:
        chosen = dl.chosen_for_all(letters)
    else:
        by_ref = {(x.partition, x.offset): x for x in letters}
        missing = [o for o in body.offsets if (o.partition, o.offset) not in by_ref]
        if missing:
            raise NotFound(f"{len(missing)} of the offsets name no dead letter you may see")
        chosen = [by_ref[(o.partition, o.offset)] for o in body.offsets]
    return await redrives.start(
        principal, body.dlq_topic, chosen, body.max_per_second or default_rate
    )


async def redrive_task(redrives: Redrives, principal: Principal, task_id: str) -> RedriveTask:
    loaded = await redrives.tasks.get(task_id)
    if loaded is None or not (
        principal.national or loaded.aggregate.partnership == principal.partnership
    ):
        raise NotFound("no such redrive task")
    return loaded.aggregate
