"""Matching's handlers on an in-memory store: partnership and consent over a client's matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runtime.documents import AlreadyExists
from runtime.events import Wrap
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from services.matching import handlers
from services.matching.domain import Match
from services.matching.rules import ClientProfile, VacancySpec

JOB_READY = {
    "client_id": "CL-1",
    "skills": ["customer service", "cash handling"],
    "qualification_level": 2,
    "literacy": "level_1",
    "numeracy": "entry_3",
    "preferred_sectors": ["retail"],
    "location": {"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
    "max_travel_km": 15,
    "available_hours_per_week": 30,
    "priority_groups": [],
    "ward": "Bewsey & Whitecross",
    "consent_scopes": ["providers"],
    "partnership": "cheshire-warrington",
}
SCOPED = {
    "vacancy_id": "VAC-CW",
    "employer_id": "E-1",
    "brokerage_id": "EB-01",
    "partnership": "cheshire-warrington",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 2,
    "hours_per_week": 24,
    "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    "closing_date": "2026-12-31",
    "required_skills": ["customer service"],
    "desirable_skills": [],
    "min_qualification_level": 1,
    "target_priority_groups": [],
    "target_wards": [],
    "guarantees": {},
}
# Same place, another partnership's brokerage: only the partnership tells them apart.
SCOPED_BCBC = {**SCOPED, "vacancy_id": "VAC-BCBC", "brokerage_id": "EB-02", "partnership": "bcbc"}


class FakeMatches:
    def __init__(self) -> None:
        self.docs: dict[str, Match] = {}
        self.events: list[EventData] = []  # what mutations emitted

    async def add(self, match: Match, events: Sequence[Any]) -> None:
        if match.match_id in self.docs:
            raise AlreadyExists(match.match_id)
        self.docs[match.match_id] = match  # its events are enveloped: only withdrawals are kept

    async def find(self, query: dict[str, str]) -> list[Match]:
        return [m for m in self.docs.values() if all(getattr(m, k) == v for k, v in query.items())]

    async def mutate(
        self, query: dict[str, str], change: Callable[[Match], list[EventData]], wrap: Wrap
    ) -> Match:
        match = self.docs[query["_id"]]
        self.events += change(match)
        return match


class FakeStore:
    """The part of `MatchingStore` the handlers use, in dicts."""

    def __init__(self) -> None:
        self.matches = FakeMatches()
        self.clients: dict[str, dict[str, Any]] = {}
        self.vacancies: dict[str, dict[str, Any]] = {}

    async def save_profile(self, profile: ClientProfile, consent_scopes: list[str]) -> None:
        doc = self.clients.setdefault(profile.client_id, {})
        doc.update({**profile.model_dump(mode="json", exclude_none=True)})
        doc["consent_scopes"] = consent_scopes

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        self.clients.setdefault(client_id, {"client_id": client_id})["consent_scopes"] = scopes

    async def set_partnership(self, client_id: str, partnership: str) -> None:
        self.clients.setdefault(client_id, {"client_id": client_id})["partnership"] = partnership

    async def client_doc(self, client_id: str) -> dict[str, Any] | None:
        return self.clients.get(client_id)

    async def job_ready_clients(self) -> list[ClientProfile]:
        return [
            ClientProfile.model_validate(d) for d in self.clients.values() if d.get("job_ready")
        ]

    async def save_vacancy(self, spec: VacancySpec) -> None:
        self.vacancies[spec.vacancy_id] = spec.model_dump(mode="json")

    async def open_vacancies(self) -> list[VacancySpec]:
        return [VacancySpec.model_validate(v) for v in self.vacancies.values() if v["open"]]

    def live(self) -> dict[str, str]:
        return {
            m.vacancy_id: m.status for m in self.matches.docs.values() if m.status == "proposed"
        }

    def withdrawals(self) -> list[tuple[str, str]]:
        return [
            (e.vacancy_id, e.reason)  # type: ignore[attr-defined]
            for e in self.matches.events
            if e.event_type == "matching.match.withdrawn"
        ]


async def dispatch(store: FakeStore, type_: str, data: dict[str, Any], n: int) -> None:
    model = EVENT_MODELS[type_]
    made = CloudEvent.create(type=type_, source="/t", subject="k", data=data)
    await handlers.HANDLERS[model](
        made.model_copy(update={"id": f"ev-{n}"}), model(**data), store=store
    )


async def test_a_client_is_paired_only_with_its_partnerships_vacancies_and_follows_a_move() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED_BCBC, 2)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 3)
    assert store.live() == {"VAC-CW": "proposed"}
    (match,) = store.matches.docs.values()
    assert match.partnership == "cheshire-warrington"

    moved = {
        "client_id": "CL-1",
        "from_partnership": "cheshire-warrington",
        "to_partnership": "bcbc",
        "local_authority": "Birmingham",
        "ward": "Ladywood",
        "history_follows": False,
    }
    await dispatch(store, "referrals.client.moved", moved, 4)
    assert store.live() == {"VAC-BCBC": "proposed"}
    assert store.withdrawals() == [("VAC-CW", "gate-failed")]


async def test_withdrawing_providers_consent_withdraws_live_matches_until_recorded_again() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 2)
    assert store.live() == {"VAC-CW": "proposed"}

    withdrawn = {"client_id": "CL-1", "scopes": ["providers"], "current_scopes": ["employers"]}
    await dispatch(store, "referrals.client.consent-withdrawn", withdrawn, 3)
    assert store.live() == {} and store.withdrawals() == [("VAC-CW", "consent-withdrawn")]

    # No proposal for them meanwhile, even for a vacancy scoped after the withdrawal.
    await dispatch(store, "vacancies.vacancy.scoped", {**SCOPED, "vacancy_id": "VAC-2"}, 4)
    assert store.live() == {}

    recorded = {"client_id": "CL-1", "scopes": ["providers"], "current_scopes": ["providers"]}
    await dispatch(store, "referrals.client.consent-recorded", recorded, 5)
    assert store.live() == {"VAC-CW": "proposed", "VAC-2": "proposed"}


async def test_employers_consent_alone_changes_no_match() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 2)
    events = len(store.matches.events)
    withdrawn = {"client_id": "CL-1", "scopes": ["employers"], "current_scopes": ["providers"]}
    await dispatch(store, "referrals.client.consent-withdrawn", withdrawn, 3)
    assert store.live() == {"VAC-CW": "proposed"} and len(store.matches.events) == events


async def test_consent_of_a_client_who_is_not_job_ready_reads_no_vacancies() -> None:
    store = FakeStore()
    recorded = {"client_id": "CL-9", "scopes": ["providers"], "current_scopes": ["providers"]}
    await dispatch(store, "referrals.client.consent-recorded", recorded, 1)
    assert store.clients["CL-9"]["consent_scopes"] == ["providers"] and store.live() == {}
