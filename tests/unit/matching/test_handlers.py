"""Matching's handlers and allocator on an in-memory store: gates, limits and withdrawals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from runtime.documents import AlreadyExists
from runtime.errors import NotFound
from runtime.events import Wrap
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from services.matching import handlers
from services.matching.allocator import Allocator
from services.matching.domain import Match
from services.matching.store import MatchingStore

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)

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
        self.events: list[EventData] = []  # what every write emitted, in order

    async def add(self, match: Match, events: Sequence[Any]) -> None:
        if match.match_id in self.docs:
            raise AlreadyExists(match.match_id)
        self.docs[match.match_id] = match
        self.events += [EVENT_MODELS[e.type].model_validate(e.data) for e in events]

    async def get(self, match_id: str) -> Match | None:
        return self.docs.get(match_id)

    async def find(self, query: dict[str, str]) -> list[Match]:
        return [m for m in self.docs.values() if all(getattr(m, k) == v for k, v in query.items())]

    async def mutate(
        self, query: dict[str, str], change: Callable[[Match], list[EventData]], wrap: Wrap
    ) -> Match:
        if query["_id"] not in self.docs:
            raise NotFound("no such match")
        match = self.docs[query["_id"]]
        self.events += change(match)
        return match


class FakeStore:
    """`MatchingStore` in dicts: the pools, the queue, the leases and the matches."""

    profile = staticmethod(MatchingStore.profile)
    spec = staticmethod(MatchingStore.spec)

    def __init__(self) -> None:
        self.matches = FakeMatches()
        self.clients: dict[str, dict[str, Any]] = {}
        self.vacancies: dict[str, dict[str, Any]] = {}
        self.queue: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, str] = {}
        self.index: dict[str, set[str]] = {}

    async def index_match(self, vacancy_id: str, client_id: str, match_id: str) -> None:
        for key in (f"vacancy|{vacancy_id}", f"client|{client_id}"):
            self.index.setdefault(key, set()).add(match_id)

    async def update_client(self, client_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.clients.setdefault(client_id, {"_id": client_id}).update(fields)
        return self.clients[client_id]

    async def add_programme(self, client_id: str, programme: str) -> dict[str, Any]:
        doc = self.clients.setdefault(client_id, {"_id": client_id})
        doc["completed_programmes"] = sorted({*doc.get("completed_programmes", []), programme})
        return doc

    async def set_referral(self, *_: str) -> None:
        pass

    async def client_doc(self, client_id: str) -> dict[str, Any] | None:
        return self.clients.get(client_id)

    async def client_docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.clients[i] for i in ids if i in self.clients}

    async def update_vacancy(self, vacancy_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.vacancies.setdefault(vacancy_id, {"_id": vacancy_id}).update(fields)
        return self.vacancies[vacancy_id]

    async def vacancy_docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.vacancies[i] for i in ids if i in self.vacancies}

    async def enqueue(self, partnership: str | None, kind: str, entity_id: str, cause: str) -> None:
        if partnership is not None:
            key = f"{partnership}|{kind}|{entity_id}|{cause}"
            self.queue[key] = {
                "_id": key,
                "partnership": partnership,
                "kind": kind,
                "entity_id": entity_id,
            }

    async def pending(self) -> list[dict[str, Any]]:
        return list(self.queue.values())

    async def done(self, ids: list[str]) -> None:
        for i in ids:
            self.queue.pop(i, None)

    async def lease(self, partnership: str, holder: str) -> int | None:
        return 1 if self.leases.setdefault(partnership, holder) == holder else None

    async def load_partnership(self, partnership: str) -> tuple[list[Any], list[Any], list[Match]]:
        return (
            [c for c in self.clients.values() if c.get("partnership") == partnership],
            [v for v in self.vacancies.values() if v.get("partnership") == partnership],
            [
                m
                for m in self.matches.docs.values()
                if m.partnership == partnership and m.status == "proposed"
            ],
        )

    def live(self) -> dict[str, str]:
        return {
            m.vacancy_id: m.status for m in self.matches.docs.values() if m.status == "proposed"
        }

    def live_pairs(self) -> set[tuple[str, str]]:
        return {
            (m.client_id, m.vacancy_id)
            for m in self.matches.docs.values()
            if m.status == "proposed"
        }

    def withdrawals(self) -> list[tuple[str, str]]:
        return [
            (e.vacancy_id, e.reason)  # type: ignore[attr-defined]
            for e in self.matches.events
            if e.event_type == "matching.match.withdrawn"
        ]


ALLOCATORS: dict[int, Allocator] = {}


async def dispatch(store: FakeStore, type_: str, data: dict[str, Any], n: int) -> None:
    """Handle one event, then let the store's allocator settle the queue (as its loop would)."""
    model = EVENT_MODELS[type_]
    made = CloudEvent.create(type=type_, source="/t", subject="k", data=data)
    await handlers.HANDLERS[model](
        made.model_copy(update={"id": f"ev-{n}"}), model(**data), store=store
    )
    allocator = ALLOCATORS.setdefault(id(store), Allocator(store, lambda: NOW))  # type: ignore[arg-type]
    await allocator.tick()


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
    assert store.queue == {}  # of no partnership yet: nothing to allocate


def client(n: int, **change: Any) -> dict[str, Any]:
    return {**JOB_READY, "client_id": f"CL-{n}", **change}


def vacancy(n: int, **change: Any) -> dict[str, Any]:
    return {**SCOPED, "vacancy_id": f"VAC-{n}", **change}


async def test_a_blocking_barrier_recorded_after_a_match_withdraws_it() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 2)
    assessed = {
        "client_id": "CL-1",
        "provider_id": "P-01",
        "qualification_level": 2,
        "literacy": "level_1",
        "numeracy": "entry_3",
        "blocking_barriers": 1,
    }
    await dispatch(store, "referrals.client.assessed", assessed, 3)
    assert store.live() == {} and store.withdrawals() == [("VAC-CW", "gate-failed")]
    # Job-ready again (the barrier cleared): proposed again under the same match id.
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 4)
    assert store.live() == {"VAC-CW": "proposed"} and len(store.matches.docs) == 1


async def test_more_candidates_than_places_fill_each_shortlist_to_its_size_only() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", vacancy(1, shortlist_size=2), 1)
    for n in range(5):
        await dispatch(store, "referrals.client.job-ready", client(n), 10 + n)
    assert len(store.live_pairs()) == 2
    ranks = sorted(m.rank for m in store.matches.docs.values() if m.status == "proposed")
    assert ranks[0] == 1


async def test_a_client_sits_on_three_shortlists_at_most() -> None:
    store = FakeStore()
    for n in range(5):
        await dispatch(store, "vacancies.vacancy.scoped", vacancy(n), n)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 10)
    assert len(store.live_pairs()) == 3


async def test_a_placement_withdraws_the_clients_other_matches_as_placed() -> None:
    store = FakeStore()
    for n in range(2):
        await dispatch(store, "vacancies.vacancy.scoped", vacancy(n), n)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 10)
    started = {
        "placement_id": "PL-1",
        "vacancy_id": "VAC-0",
        "client_id": "CL-1",
        "employer_id": "E-1",
        "brokerage_id": "EB-01",
        "start_date": "2026-12-01",
        "hours_per_week": 24,
    }
    await dispatch(store, "vacancies.placement.started", started, 11)
    assert sorted(store.withdrawals()) == [("VAC-0", "placed"), ("VAC-1", "placed")]


async def test_a_filled_vacancy_withdraws_its_matches_and_a_closed_one_too() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", vacancy(1), 1)
    await dispatch(store, "vacancies.vacancy.scoped", vacancy(2), 2)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 3)
    shut = {k: SCOPED[k] for k in ("employer_id", "brokerage_id", "partnership")}
    await dispatch(store, "vacancies.vacancy.filled", {**shut, "vacancy_id": "VAC-1"}, 4)
    await dispatch(
        store,
        "vacancies.vacancy.expired",
        {**shut, "vacancy_id": "VAC-2", "closing_date": "2026-12-31"},
        5,
    )
    assert store.withdrawals() == [("VAC-1", "vacancy-filled"), ("VAC-2", "vacancy-expired")]


async def test_a_routeway_graduate_ranks_first_and_displaces_a_better_score() -> None:
    store = FakeStore()
    await dispatch(
        store,
        "vacancies.vacancy.scoped",
        vacancy(1, shortlist_size=1, routeway="retail-routeway"),
        1,
    )
    await dispatch(store, "referrals.client.job-ready", client(1), 2)
    # Weaker on skills, but completed the routeway the vacancy names.
    await dispatch(store, "referrals.client.job-ready", client(2, skills=["teamwork"]), 3)
    completed = {
        "referral_id": "R-1",
        "client_id": "CL-2",
        "provider_id": "P-01",
        "programme": "retail-routeway",
        "outcome": "completed",
    }
    await dispatch(store, "referrals.referral.completed", completed, 4)
    assert store.live_pairs() == {("CL-2", "VAC-1")}
    assert store.withdrawals() == [("VAC-1", "rebalanced")]
    (live,) = [m for m in store.matches.docs.values() if m.status == "proposed"]
    assert live.priority and live.rank == 1 and live.rules_version


async def test_a_new_vacancy_does_not_churn_shortlists_for_a_small_gain() -> None:
    store = FakeStore()
    for n in range(3):
        await dispatch(store, "vacancies.vacancy.scoped", vacancy(n), n)
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 10)
    before = store.live_pairs()
    # A fourth vacancy, a little closer: under the hysteresis, nothing moves.
    closer = vacancy(3, location={"postcode_district": "WA5", "lat": 53.39, "lon": -2.605})
    await dispatch(store, "vacancies.vacancy.scoped", closer, 11)
    assert store.live_pairs() == before and store.withdrawals() == []


async def test_a_failed_write_leaves_no_place_the_store_never_received() -> None:
    """The engine decides before the store is written: when a write fails, the next pass
    rebuilds from the store and proposes the pair after all, once."""
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    add = store.matches.add

    async def database_away(match: Match, events: Sequence[Any]) -> None:
        raise ConnectionError("the database went away")

    store.matches.add = database_away  # type: ignore[method-assign]
    try:
        await dispatch(store, "referrals.client.job-ready", JOB_READY, 2)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the write failure reaches the loop, which backs off")
    assert store.live() == {} and len(store.queue) == 1, "the change waits in the queue"
    store.matches.add = add  # type: ignore[method-assign]
    allocator = ALLOCATORS[id(store)]
    assert await allocator.tick() == 1
    assert store.live() == {"VAC-CW": "proposed"}
    assert [type(e).__name__ for e in store.matches.events] == ["MatchProposed"]


async def test_a_replica_that_lost_the_lease_forgets_what_it_kept() -> None:
    store = FakeStore()
    await dispatch(store, "vacancies.vacancy.scoped", SCOPED, 1)
    allocator = ALLOCATORS[id(store)]
    assert "cheshire-warrington" in allocator.engines
    store.leases["cheshire-warrington"] = "another replica"
    await dispatch(store, "referrals.client.job-ready", JOB_READY, 2)
    assert "cheshire-warrington" not in allocator.engines and store.live() == {}
