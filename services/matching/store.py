"""MongoDB adapter for matching: the pools it matches, the allocation queue and leases, matches.

FerretDB answers only `{_id: ...}` from an index, so every hot-path read and write here is by
`_id`. Two reads scan a collection, both bounded and off the event path: `load_partnership` (a
partnership's pool and live matches, when a replica takes over its allocation) and `pending`
(the allocation queue, which holds only changes not yet allocated: a few documents).

`GET /matches` reads a vacancy's or a client's matches through `match_index`: one document per
vacancy and per client (`vacancy|<id>`, `client|<id>`) naming its match ids, so the listing is
two reads by `_id` (the index, then the matches), not a scan of every match. Only the holder of a
partnership's allocation lease writes its matches, so each index document has one writer.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from runtime.bulk import find_by_ids
from runtime.leases import Lease, Leases
from runtime.persistence import Persistence
from schemas.referrals import ACTIVE_REFERRAL_STATUSES
from services.matching.domain import Match, match_id_for
from services.matching.rules import ClientProfile, VacancySpec

LEASE_SECONDS = 30.0
"""How long a partnership's allocation waits for a holder that stopped renewing (it died). A
rebuild holds the event loop while it solves, so this must outlast the longest solve: 3-4 s at
10,000 clients x 10,000 vacancies (`bench/allocation_bench.py`)."""


class MatchingStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self.matches = persistence.documents("matches", Match, id_field="match_id")
        self._clients = db["clients"]
        self._vacancies = db["vacancies"]
        self._queue = db["allocation_queue"]
        self._profile = persistence.profile
        self._leases = Leases(
            persistence.documents("leases", Lease, id_field="name"), LEASE_SECONDS
        )
        self._index = db["match_index"]

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.matches.collection]

    async def ensure_indexes(self) -> None:
        await self.matches.collection.create_index(
            [("vacancy_id", ASCENDING), ("score", DESCENDING)]
        )
        await self.matches.collection.create_index([("client_id", ASCENDING)])

    # --- which matches a vacancy or a client has, by `_id` ---

    async def index_match(self, vacancy_id: str, client_id: str, match_id: str) -> None:
        """Name the match under its vacancy and its client. Written before the match itself,
        so a match is never unlisted; a name whose match was never written reads as nothing."""
        for key in (f"vacancy|{vacancy_id}", f"client|{client_id}"):
            await self._index.update_one(
                {"_id": key}, {"$set": {f"ids.{match_id}": True}}, upsert=True
            )

    async def matches_of(
        self, *, vacancy_id: str | None = None, client_id: str | None = None
    ) -> list[Match]:
        """A vacancy's or a client's matches (or the one of both), best first."""
        if vacancy_id and client_id:
            ids = [match_id_for(vacancy_id, client_id)]
        else:
            key = f"vacancy|{vacancy_id}" if vacancy_id else f"client|{client_id}"
            doc = await self._index.find_one({"_id": key})
            ids = sorted((doc or {}).get("ids", {}))
        loaded = await self.matches.get_many(ids)
        matches = [v.aggregate for v in loaded.values()]
        return sorted(matches, key=lambda m: (-m.score, m.match_id))

    # --- the client pool (from referrals and placement events) ---

    async def update_client(self, client_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Set fields of a client's document; the document as it now is."""
        await self._clients.update_one({"_id": client_id}, {"$set": fields}, upsert=True)
        return await self.client_doc(client_id) or {}

    async def add_programme(self, client_id: str, programme: str) -> dict[str, Any]:
        await self._clients.update_one(
            {"_id": client_id}, {"$addToSet": {"completed_programmes": programme}}, upsert=True
        )
        return await self.client_doc(client_id) or {}

    async def set_referral(
        self, client_id: str, referral_id: str, provider_id: str, status: str
    ) -> None:
        await self._clients.update_one(
            {"_id": client_id},
            {"$set": {f"referrals.{referral_id}": {"provider_id": provider_id, "status": status}}},
            upsert=True,
        )

    async def client_doc(self, client_id: str) -> dict[str, Any] | None:
        return await self._clients.find_one({"_id": client_id})

    async def client_docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return await find_by_ids(self._clients, ids, self._profile)

    @staticmethod
    def profile(doc: dict[str, Any]) -> ClientProfile | None:
        """The matchable profile, or None for a client never job-ready (nothing to match)."""
        if "skills" not in doc:
            return None
        return ClientProfile.model_validate({**doc, "client_id": doc["_id"]})

    @staticmethod
    def providers_of(client_doc: dict[str, Any] | None) -> set[str]:
        referrals = (client_doc or {}).get("referrals", {})
        return {
            r["provider_id"] for r in referrals.values() if r["status"] in ACTIVE_REFERRAL_STATUSES
        }

    # --- the vacancy pool (from vacancies events) ---

    async def update_vacancy(self, vacancy_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        await self._vacancies.update_one({"_id": vacancy_id}, {"$set": fields}, upsert=True)
        return await self._vacancies.find_one({"_id": vacancy_id}) or {}

    async def vacancy_docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return await find_by_ids(self._vacancies, ids, self._profile)

    @staticmethod
    def spec(doc: dict[str, Any]) -> VacancySpec | None:
        if "required_skills" not in doc:
            return None  # posted, not scoped yet
        return VacancySpec.model_validate({**doc, "vacancy_id": doc["_id"]})

    # --- the allocation queue: what changed, per partnership, not allocated yet ---

    async def enqueue(self, partnership: str | None, kind: str, entity_id: str, cause: str) -> None:
        """Mark a client or vacancy changed. Keyed by the cause, so a redelivery is one entry."""
        if partnership is None:
            return  # a client of no partnership matches nothing
        doc = {
            "_id": f"{partnership}|{kind}|{entity_id}|{cause}",
            "partnership": partnership,
            "kind": kind,
            "entity_id": entity_id,
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._queue.insert_one(doc)

    async def pending(self, limit: int = 5000) -> list[dict[str, Any]]:
        return await self._queue.find({}).limit(limit).to_list(None)

    async def done(self, ids: list[str]) -> None:
        # One by `_id` each: the lookup FerretDB answers from its index.
        for queued in ids:
            await self._queue.delete_one({"_id": queued})

    # --- who allocates a partnership: a lease, so there is one allocation per partnership ---

    async def lease(self, partnership: str, holder: str) -> int | None:
        """Take or renew the partnership's lease; its epoch (changes with each new holder), or
        None when another live replica holds it."""
        return await self._leases.take(partnership, holder)

    async def load_partnership(
        self, partnership: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Match]]:
        """A partnership's pool and live matches: one scan each, when a replica takes it over."""
        clients = await self._clients.find({"partnership": partnership}).to_list(None)
        vacancies = await self._vacancies.find({"partnership": partnership}).to_list(None)
        live = await self.matches.find({"partnership": partnership, "status": "proposed"})
        return clients, vacancies, live
