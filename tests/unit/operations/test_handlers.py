"""The read models' handlers on in-memory stores: a client's journey, counters counted once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runtime.handlers import Aggregates, Item
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from services.operations import kpis
from services.operations.clients import client_handlers
from services.operations.counters import CounterReader, Counters
from services.operations.dispatch import Fanned
from services.operations.projections import COUNTED
from services.operations.vacancies import vacancy_handlers
from tests.unit.fakes import InMemoryDocuments

AT = datetime(2026, 2, 3, 10, tzinfo=UTC)
LOC = {"postcode_district": "WA5", "lat": 53.39, "lon": -2.62}
REF = {
    "client_id": "CL-1",
    "provider_id": "P-01",
    "programme": "retail-routeway",
    "partnership": "cw",
}


def _item(n: int, type_: str, data: dict[str, Any], topic: str = "t") -> Item:
    model = EVENT_MODELS[type_]
    event = CloudEvent.create(type=type_, source="/test", subject="s", data=data, time=AT)
    return Item(event, model.model_validate(data), (f"{topic}/0", n))


def _events() -> list[Item]:
    vac = {"vacancy_id": "V-1", "employer_id": "E-1", "brokerage_id": "EB-01", "partnership": "cw"}
    pl = {**vac, "placement_id": "PL-1", "client_id": "CL-1"}
    return [
        _item(
            0,
            "referrals.client.registered",
            {
                "client_id": "CL-1",
                "claimant_ref": "CLM-1",
                "benefit": "UC",
                "local_authority": "Warrington",
                "ward": "Bewsey",
                "postcode_district": "WA5",
                "age_band": "25-49",
                "partnership": "cw",
            },
        ),
        _item(
            1,
            "referrals.client.consent-recorded",
            {"client_id": "CL-1", "scopes": ["tracking"], "current_scopes": ["tracking"]},
        ),
        _item(2, "referrals.referral.created", {**REF, "referral_id": "R-1"}),
        _item(3, "referrals.referral.accepted", {**REF, "referral_id": "R-1"}),
        _item(
            4,
            "referrals.referral.started",
            {**REF, "referral_id": "R-1", "programme_kind": "support"},
        ),
        _item(
            5,
            "referrals.client.job-ready",
            {
                "client_id": "CL-1",
                "skills": ["x"],
                "qualification_level": 2,
                "literacy": "level_1",
                "numeracy": "level_1",
                "preferred_sectors": ["retail"],
                "location": LOC,
                "max_travel_km": 10,
                "available_hours_per_week": 30,
                "priority_groups": ["carer", "lone_parent"],
                "ward": "Bewsey",
                "consent_scopes": ["tracking"],
                "partnership": "cw",
            },
        ),
        _item(
            0,
            "vacancies.vacancy.posted",
            {
                **vac,
                "title": "Sales",
                "sector": "retail",
                "positions": 1,
                "hours_per_week": 20,
                "location": LOC,
                "closing_date": "2026-03-01",
            },
            topic="v",
        ),
        _item(
            1,
            "vacancies.placement.started",
            {**pl, "start_date": "2026-02-03", "hours_per_week": 20, "lead_provider_id": "P-01"},
            topic="v",
        ),
        _item(2, "vacancies.placement.sustained", {**pl, "weeks": 13}, topic="v"),
    ]


def _dispatcher() -> tuple[Fanned, InMemoryDocuments, CounterReader]:
    clients = InMemoryDocuments("client_id")
    vacancies = InMemoryDocuments("vacancy_id")
    counts, indexes = InMemoryDocuments("counter_id"), InMemoryDocuments("index_id")
    fanned = Fanned(
        Aggregates(vacancies, vacancy_handlers(), "/t"),
        Aggregates(clients, client_handlers(), "/t"),
        Counters(counts, indexes, clients, vacancies, COUNTED),
    )
    return fanned, clients, CounterReader(counts, indexes)


async def test_a_clients_journey_and_its_counts() -> None:
    fanned, clients, reader = _dispatcher()
    assert await fanned.handle(_events()) == []
    view = clients.docs["CL-1"][0]
    assert view.stage == "sustained"
    assert view.journey() == {
        "engaged": True,
        "supported": True,
        "trained": False,
        "job": True,
        "sustained": True,
    }
    assert [t.type for t in view.timeline][:2] == [
        "referrals.client.registered",
        "referrals.client.consent-recorded",
    ]
    by_ward = kpis.add_up(await reader.days("placements_started", ["cw"]), "ward")
    assert by_ward == {"Bewsey": 1}
    by_group = kpis.add_up(await reader.days("placements_started", ["cw"]), "priority_group")
    assert by_group == {"carer": 1, "lone_parent": 1}
    assert kpis.add_up(await reader.days("sustained_13", ["cw"]), "provider") == {"P-01": 1}
    assert kpis.add_up(await reader.days("placements_started", ["cw"]), "sector") == {"retail": 1}
    assert kpis.add_up(await reader.days("vacancies_notified", ["cw"]), "month") == {"2026-02": 1}
    assert kpis.add_up(await reader.days(kpis.FAIRNESS_POOL, ["cw"]), "priority_group") == {
        "carer": 1,
        "lone_parent": 1,
    }


async def test_a_redelivered_batch_counts_nothing_twice() -> None:
    fanned, _, reader = _dispatcher()
    await fanned.handle(_events())
    await fanned.handle(_events())  # the consumer handled it again after a crash
    assert kpis.add_up(await reader.days("referrals_created", ["cw"]), "month") == {"2026-02": 1}
    assert kpis.add_up(await reader.days("clients_job_ready", ["cw"]), "ward") == {"Bewsey": 1}


async def test_other_partnerships_figures_are_apart() -> None:
    fanned, _, reader = _dispatcher()
    await fanned.handle(_events())
    assert await reader.days("referrals_created", ["bcbc"]) == []
