"""Counters of the measures: one document per measure, partnership and day (`_id`
`measure|partnership|YYYY-MM-DD`), holding a count per dimension and key, and one index document
per measure and partnership listing its counted days.

Each event adds to the counters exactly once: a counter document records the partition offsets
and event ids applied to it in the same compare-and-set write as the counts
(`runtime.documents`), so a redelivery, a retried batch or a second replica adds nothing. A query
reads the index, then only the day documents of its period, all by `_id`: never a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from pydantic import BaseModel, Field

from runtime.documents import Change, DocumentStore, StaleAggregate
from runtime.handlers import Item, Rejection
from schemas.base import EventData
from services.operations import kpis
from services.operations.clients import ClientView
from services.operations.vacancies import VacancyView

_ATTEMPTS = 5


class DayCounts(BaseModel):
    counter_id: str
    measure: str
    partnership: str
    day: str
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)


class DayIndex(BaseModel):
    index_id: str
    days: list[str] = Field(default_factory=list)


def escape(key: str) -> str:
    """A key as a field name: the store refuses dots and a leading dollar."""
    return key.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def unescape(key: str) -> str:
    return key.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def index_id(measure: str, partnership: str) -> str:
    return f"{measure}|{partnership}"


class Counters:
    """A dispatcher: counts a batch's events. Runs after the client and vacancy projections,
    whose documents give each event its keys (ward, groups, sector)."""

    def __init__(
        self,
        counts: DocumentStore[DayCounts],
        indexes: DocumentStore[DayIndex],
        clients: DocumentStore[ClientView],
        vacancies: DocumentStore[VacancyView],
        models: Iterable[type[EventData]],
        touched: set[tuple[str, str]] | None = None,
    ) -> None:
        self._counts = counts
        self._indexes = indexes
        self._clients = clients
        self._vacancies = vacancies
        self.models = {m.event_type: m for m in models}
        # (partnership, month) pairs whose fairness figures changed: the monitor checks them.
        self.touched = touched if touched is not None else set()

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        client_ids = {getattr(i.data, "client_id", None) for i in items} - {None}
        vacancy_ids = {getattr(i.data, "vacancy_id", None) for i in items} - {None}
        clients = {k: v.aggregate for k, v in (await self._clients.get_many(client_ids)).items()}
        vacancies = {
            k: v.aggregate for k, v in (await self._vacancies.get_many(vacancy_ids)).items()
        }
        planned: list[tuple[Item, kpis.Increment]] = []
        for item in items:
            client = clients.get(getattr(item.data, "client_id", None) or "")
            vacancy = vacancies.get(getattr(item.data, "vacancy_id", None) or "")
            for inc in kpis.increments(item.event, item.data, client, vacancy):
                planned.append((item, inc))
        if not planned:
            return []
        # The index first: a retry after a crash between the two finds the days listed.
        await self._index({(inc.measure, inc.partnership, inc.day) for _, inc in planned})
        await self._count(planned)
        for _, inc in planned:
            if inc.measure.startswith("fair_"):
                self.touched.add((inc.partnership, inc.day.isoformat()[:7]))
        return []

    async def _index(self, days: set[tuple[str, str, date]]) -> None:
        wanted: dict[str, set[str]] = {}
        for measure, partnership, day in days:
            wanted.setdefault(index_id(measure, partnership), set()).add(day.isoformat())
        for _ in range(_ATTEMPTS):
            loaded = await self._indexes.get_many(wanted)
            changes = []
            for iid, new in wanted.items():
                before = loaded.get(iid)
                have = set(before.aggregate.days) if before else set()
                if new <= have:
                    continue
                changes.append(
                    Change(DayIndex(index_id=iid, days=sorted(have | new)), loaded=before)
                )
            if not await self._indexes.write(changes):
                return
        raise StaleAggregate("counter index written concurrently")

    async def _count(self, planned: list[tuple[Item, kpis.Increment]]) -> None:
        loaded = await self._counts.get_many({inc.counter_id for _, inc in planned})
        changes: dict[str, Change[DayCounts]] = {}
        for item, inc in planned:
            cid = inc.counter_id
            before = loaded.get(cid)
            if before and before.has_applied(item.event.id, item.offset):
                continue
            change = changes.get(cid)
            if change is None:
                doc = (
                    before.aggregate.model_copy(deep=True)
                    if before
                    else DayCounts(
                        counter_id=cid,
                        measure=inc.measure,
                        partnership=inc.partnership,
                        day=inc.day.isoformat(),
                    )
                )
                change = changes[cid] = Change(doc, loaded=before)
            if change.has_applied(item.event.id, item.offset):
                continue
            for dimension, key in inc.keys:
                per_key = change.aggregate.counts.setdefault(dimension, {})
                per_key[escape(key)] = per_key.get(escape(key), 0) + 1
            change.apply(item.event.id, item.offset)
        if await self._counts.write(list(changes.values())):
            # Another writer got there first: the consumer handles the batch again, and what
            # this run stored is recognised as applied.
            raise StaleAggregate("counters written concurrently")

    # --- reading ----------------------------------------------------------------------------


class CounterReader:
    def __init__(self, counts: DocumentStore[DayCounts], indexes: DocumentStore[DayIndex]) -> None:
        self._counts = counts
        self._indexes = indexes

    async def days(
        self,
        measure: str,
        partnerships: Iterable[str],
        start: date | None = None,
        end: date | None = None,
    ) -> list[tuple[str, kpis.Counts]]:
        """`(day, counts)` of every counted day of the period, over these partnerships."""
        partnerships = list(partnerships)
        indexes = await self._indexes.get_many(index_id(measure, p) for p in partnerships)
        lo, hi = (start.isoformat() if start else ""), (end.isoformat() if end else "9999")
        ids = [
            kpis.counter_id(measure, p, day)
            for p in partnerships
            if (ix := indexes.get(index_id(measure, p)))
            for day in ix.aggregate.days
            if lo <= day <= hi
        ]
        docs = await self._counts.get_many(ids)
        return [
            (
                v.aggregate.day,
                {
                    dim: {unescape(k): n for k, n in keys.items()}
                    for dim, keys in v.aggregate.counts.items()
                },
            )
            for v in docs.values()
        ]
