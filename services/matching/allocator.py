"""The allocation loop: one allocator per partnership across every replica, debounced.

Handlers (any replica) queue what changed. Each replica runs this loop: every `POLL_SECONDS` it
reads the queue, and for each partnership with changes takes (or renews) the partnership's lease
in the database. Only the holder allocates that partnership, so its shortlists are one
allocation however many replicas consume the events; a holder that stops is overtaken after
`LEASE_SECONDS` and its successor rebuilds. Everything queued since the last pass is settled in
one re-solve (the debounce).

The holder keeps the partnership's `Engine` in memory. It is built from the database when the
replica takes the lease (one scan of the partnership's clients, vacancies and live matches,
bounded by the partnership's pool: about 1 s per 10,000 clients on FerretDB), then changed by
reading only the queued clients and vacancies by `_id`. A lease whose epoch moved (another
replica held it in between) means a rebuild too.

The engine and the store never part ways: the engine decides, the store is written, and if any
write fails (the database away, a write lost to a race, the lease taken while writing) the
engine is dropped and the next pass rebuilds it from the store and settles the same queue
entries again. A long write renews the lease as it goes (`runtime/leases.py`: a real
compare-and-set, FerretDB included), so two replicas never allocate one partnership at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from runtime.backoff import Backoff
from runtime.documents import AlreadyExists
from runtime.errors import NotFound
from runtime.events import enveloper
from runtime.log_once import RepeatedErrors
from services.matching.domain import Match, match_id_for
from services.matching.engine import Decisions, Engine
from services.matching.rules import Client, Vacancy, explain
from services.matching.store import MatchingStore

log = structlog.get_logger(__name__)

POLL_SECONDS = 0.3
RENEW_SECONDS = 3.0
"""How often a long write renews the lease (well within `LEASE_SECONDS`), so a holder busy
writing a large re-solve is not taken for dead, and learns if it was overtaken anyway."""
SOURCE = "/services/matching"


class LeaseLost(Exception):
    """Another replica took the partnership's lease while this one was writing."""


class Allocator:
    def __init__(self, store: MatchingStore, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.engines: dict[str, Engine] = {}
        self._epochs: dict[str, int] = {}
        self._renewed: dict[str, float] = {}  # partnership -> monotonic time of the last renewal
        self._backoff = Backoff(base=POLL_SECONDS, cap=10.0)
        self._errors = RepeatedErrors()
        self._vacancy_owner: dict[str, tuple[str, str]] = {}  # vacancy -> employer, brokerage

    async def run(self) -> None:
        failures, failing = 0, ""
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the database away, a lease lost: the queue keeps the work
                failures, failing = failures + 1, type(exc).__name__
                self._errors.report(failing, "allocation.failed", error=failing)
                await asyncio.sleep(self._backoff.delay(failures))
                continue
            if failing:
                self._errors.resolved(failing, "allocation.recovered", error=failing)
                failures, failing = 0, ""
            await asyncio.sleep(POLL_SECONDS)

    async def tick(self) -> int:
        """One pass over the queue; how many queued changes were settled."""
        queued = await self._store.pending()
        by_partnership: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in queued:
            by_partnership[entry["partnership"]].append(entry)
        settled = 0
        for partnership, entries in by_partnership.items():
            epoch = await self._store.lease(partnership, self._holder)
            if epoch is None:
                # Another replica allocates this partnership: what we kept goes out of date.
                self.engines.pop(partnership, None)
                continue
            self._renewed[partnership] = time.monotonic()
            try:
                if self._epochs.get(partnership) != epoch or partnership not in self.engines:
                    await self._rebuild(partnership, epoch)
                await self._settle(partnership, entries, epoch)
            except BaseException:
                # The engine already counts decisions the store may never have received: the
                # store is the truth, so the next pass rebuilds from it and settles again.
                self.engines.pop(partnership, None)
                raise
            await self._store.done([e["_id"] for e in entries])
            settled += len(entries)
        return settled

    async def _still_holding(self, partnership: str, epoch: int) -> None:
        """Renew the lease during a long write; stop if another replica took it meanwhile."""
        now = time.monotonic()
        if now - self._renewed.get(partnership, now) < RENEW_SECONDS:
            return
        if await self._store.lease(partnership, self._holder) != epoch:
            raise LeaseLost(partnership)
        self._renewed[partnership] = now

    async def _rebuild(self, partnership: str, epoch: int) -> None:
        clients, vacancies, live = await self._store.load_partnership(partnership)
        await self._still_holding(partnership, epoch)  # the read grows with the pool
        engine = Engine()
        for doc in clients:
            profile = self._store.profile(doc)
            if profile is not None:
                engine.put_client(Client.of(profile))
        for doc in vacancies:
            self._put_vacancy(engine, doc)
        for match in live:
            if match.client_id in engine.clients and match.vacancy_id in engine.vacancies:
                engine.restore_live(match.client_id, match.vacancy_id, match.score)
        self.engines[partnership] = engine
        self._epochs[partnership] = epoch
        decisions = engine.settle_all()
        await self._still_holding(partnership, epoch)
        await self._write(partnership, epoch, engine, decisions)
        log.info("allocation.rebuilt", partnership=partnership, clients=len(engine.clients))

    def _put_vacancy(self, engine: Engine, doc: dict[str, Any]) -> bool:
        spec = self._store.spec(doc)
        if spec is None:
            return False
        self._vacancy_owner[spec.vacancy_id] = (spec.employer_id, spec.brokerage_id)
        engine.put_vacancy(Vacancy.of(spec), spec.status)
        return True

    async def _settle(self, partnership: str, entries: list[dict[str, Any]], epoch: int) -> None:
        engine = self.engines[partnership]
        client_ids = sorted({e["entity_id"] for e in entries if e["kind"] == "client"})
        vacancy_ids = sorted({e["entity_id"] for e in entries if e["kind"] == "vacancy"})
        client_docs = await self._store.client_docs(client_ids)
        vacancy_docs = await self._store.vacancy_docs(vacancy_ids)
        for cid in client_ids:
            doc = client_docs.get(cid, {})
            profile = self._store.profile(doc) if doc else None
            if profile is None:
                continue
            # A client who moved away stays known here as of another partnership: every
            # gate then fails with `partnership`, which withdraws their matches.
            engine.put_client(Client.of(profile))
        changed_vacancies = [
            vid for vid in vacancy_ids if self._put_vacancy(engine, vacancy_docs.get(vid, {}))
        ]
        decisions = engine.settle(clients=client_ids, vacancies=changed_vacancies)
        await self._write(partnership, epoch, engine, decisions)
        for vid in changed_vacancies:
            if not engine.vacancies[vid].open:
                engine.forget_vacancy(vid)

    async def _write(
        self, partnership: str, epoch: int, engine: Engine, decisions: Decisions
    ) -> None:
        wrap = enveloper(SOURCE)
        for drop in decisions.drops:
            await self._still_holding(partnership, epoch)
            with contextlib.suppress(NotFound):  # never written: nothing to withdraw
                await self._store.matches.mutate(
                    {"_id": match_id_for(drop.vacancy_id, drop.client_id)},
                    lambda m, reason=drop.reason: m.withdraw(reason),  # type: ignore[misc]
                    wrap,
                )
        for place in decisions.places:
            await self._still_holding(partnership, epoch)
            client, vacancy = engine.clients[place.client_id], engine.vacancies[place.vacancy_id]
            evaluation = explain(client, vacancy)
            if not evaluation.eligible:
                # The bulk rules placed a pair these refuse (a test holds the two equal): not
                # written, so not live in the engine either.
                engine.unplace(place.client_id, place.vacancy_id)
                continue
            employer_id, brokerage_id = self._vacancy_owner[place.vacancy_id]
            match_id = match_id_for(place.vacancy_id, place.client_id)
            existing = await self._store.matches.get(match_id)
            if existing is None:
                await self._store.index_match(place.vacancy_id, place.client_id, match_id)
                match, events = Match.new(
                    vacancy_id=place.vacancy_id,
                    client_id=place.client_id,
                    employer_id=employer_id,
                    brokerage_id=brokerage_id,
                    partnership=partnership,
                    evaluation=evaluation,
                    rank=place.rank,
                    shortlist_size=vacancy.capacity,
                    now=self._now(),
                )
                try:
                    await self._store.matches.add(match, wrap(events))
                    continue
                except AlreadyExists:
                    pass  # written by an earlier pass that stopped before clearing the queue
            await self._store.matches.mutate(
                {"_id": match_id},
                lambda m, e=evaluation, r=place.rank, n=vacancy.capacity: m.place(e, r, n),  # type: ignore[misc]
                wrap,
            )
