"""An in-memory `VacanciesStore` for command, reaction and timer tests: versions, the events
each write stores, the unique live key of submissions, and the read models as dicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from runtime.documents import AlreadyExists, Versioned
from runtime.errors import NotFound
from runtime.timers import Timer
from services.vacancies.domain import Vacancy
from services.vacancies.submissions import Submission

A = TypeVar("A", bound=BaseModel)


class Documents(Generic[A]):
    def __init__(self, id_field: str, unique: str | None = None) -> None:
        self._id_field, self._unique = id_field, unique
        self.docs: dict[str, tuple[A, int]] = {}
        self.events: list[dict[str, Any]] = []

    def _versioned(self, doc_id: str) -> Versioned[A] | None:
        if doc_id not in self.docs:
            return None
        aggregate, version = self.docs[doc_id]
        return Versioned(aggregate.model_copy(deep=True), version)

    async def get(self, doc_id: str) -> Versioned[A] | None:
        return self._versioned(doc_id)

    async def get_many(self, ids: Iterable[str]) -> dict[str, Versioned[A]]:
        return {i: v for i in ids if (v := self._versioned(i)) is not None}

    async def find(self, query: Mapping[str, Any], **_: Any) -> list[A]:
        return [
            a.model_copy(deep=True)
            for a, _ in self.docs.values()
            if all(getattr(a, k) == v for k, v in query.items())
        ]

    def _clash(self, aggregate: A) -> bool:
        if self._unique is None:
            return False
        key, own = getattr(aggregate, self._unique), getattr(aggregate, self._id_field)
        return any(
            getattr(a, self._unique) == key and getattr(a, self._id_field) != own
            for a, _ in self.docs.values()
        )

    async def add(self, aggregate: A, events: Iterable[Any] = ()) -> None:
        doc_id = getattr(aggregate, self._id_field)
        if doc_id in self.docs or self._clash(aggregate):
            raise AlreadyExists(doc_id)
        self.docs[doc_id] = (aggregate.model_copy(deep=True), 1)
        self.events += [e.model_dump(mode="json") for e in events]

    async def mutate(
        self, query: Mapping[str, Any], change: Callable[[A], Sequence[Any]], wrap: Callable
    ) -> A:
        loaded = self._versioned(query["_id"])
        if loaded is None:
            raise NotFound("no such document")
        events = change(loaded.aggregate)
        self.docs[query["_id"]] = (loaded.aggregate.model_copy(deep=True), loaded.version + 1)
        self.events += [e.model_dump(mode="json") for e in wrap(events)]
        return loaded.aggregate

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


class FakeStore:
    def __init__(self) -> None:
        self.vacancies: Documents[Vacancy] = Documents("vacancy_id")
        self.submissions: Documents[Submission] = Documents("submission_id", unique="live_key")
        self.matches: dict[str, dict[str, Any]] = {}
        self.clients: dict[str, dict[str, Any]] = {}

    def _client(self, client_id: str) -> dict[str, Any]:
        return self.clients.setdefault(client_id, {"_id": client_id})

    async def match(self, match_id: str) -> dict[str, Any] | None:
        return self.matches.get(match_id)

    async def candidate(self, client_id: str) -> dict[str, Any]:
        return dict(self.clients.get(client_id, {}))

    async def set_partnership(self, client_id: str, partnership: str) -> None:
        self._client(client_id)["partnership"] = partnership

    async def set_partnerships(self, partnerships: dict[str, str]) -> None:
        for client_id, partnership in partnerships.items():
            await self.set_partnership(client_id, partnership)

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        self._client(client_id)["consent_scopes"] = scopes

    async def note_referral(
        self, client_id: str, referral_id: str, provider_id: str, lead: bool, active: bool
    ) -> None:
        self._client(client_id).setdefault("referrals", {})[referral_id] = {
            "provider_id": provider_id, "lead": lead, "active": active,
        }  # fmt: skip

    async def note_placement(self, client_id: str, placement_id: str, vacancy_id: str) -> None:
        self._client(client_id).setdefault("placements", {})[placement_id] = vacancy_id

    async def note_submission(self, client_id: str, submission_id: str, vacancy_id: str) -> None:
        self._client(client_id).setdefault("submissions", {})[submission_id] = vacancy_id


class RecordingTimers:
    def __init__(self) -> None:
        self.scheduled: dict[str, Timer] = {}

    async def schedule(self, timers: Iterable[Timer]) -> None:
        for timer in timers:
            self.scheduled[timer.timer_id] = timer


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment
