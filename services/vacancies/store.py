"""MongoDB adapter for the vacancies service: vacancies (with placements) and two read models.

The read models are projections of other services' events, kept to what the shortlist needs:
`shortlist` (one document per match) and `candidates` (consent in force and the few profile
fields an employer may see with consent; never priority groups, benefit or health).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.bulk import find_by_ids
from runtime.persistence import Persistence
from schemas.visibility import EMPLOYER_CONSENTED_DETAILS
from services.vacancies.domain import Vacancy


class VacanciesStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self._profile = persistence.profile
        self.vacancies = persistence.documents("vacancies", Vacancy, id_field="vacancy_id")
        self._employers = db["employers"]
        self._shortlist = db["shortlist"]
        self._candidates = db["candidates"]

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.vacancies.collection]

    async def ensure_indexes(self) -> None:
        await self.vacancies.collection.create_index(
            [("partnership", ASCENDING), ("brokerage_id", ASCENDING), ("status", ASCENDING)]
        )
        await self.vacancies.collection.create_index([("next_check", ASCENDING)])
        await self._shortlist.create_index([("vacancy_id", ASCENDING), ("score", DESCENDING)])

    async def register_employer(self, brokerage_id: str, employer_id: str) -> None:
        """An employer reference unknown to this brokerage is registered on first use."""
        await self._employers.update_one(
            {"_id": f"{brokerage_id}|{employer_id}"},
            {
                "$setOnInsert": {
                    "brokerage_id": brokerage_id,
                    "employer_id": employer_id,
                    "registered_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )

    async def due_for_sustainment(self, today: date, limit: int = 100) -> list[str]:
        cursor = self.vacancies.collection.find(
            {"next_check": {"$lte": today.isoformat()}}, {"_id": 1}
        ).limit(limit)
        return [doc["_id"] async for doc in cursor]

    # --- shortlist projection (from matching events) ---

    async def upsert_match(self, match: dict[str, Any], status: str) -> None:
        await self._shortlist.update_one(
            {"_id": match["match_id"]}, {"$set": {**match, "status": status}}, upsert=True
        )

    async def withdraw_match(self, match_id: str, reason: str) -> None:
        await self._shortlist.update_one(
            {"_id": match_id}, {"$set": {"status": "withdrawn", "withdrawn_reason": reason}}
        )

    async def shortlist(self, vacancy_id: str) -> list[dict[str, Any]]:
        cursor = self._shortlist.find(
            {"vacancy_id": vacancy_id, "status": "proposed"}, {"_id": 0}
        ).sort("score", DESCENDING)
        return [doc async for doc in cursor]

    # --- candidates projection (from referrals events) ---

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        await self._candidates.update_one(
            {"_id": client_id}, {"$set": {"consent_scopes": scopes}}, upsert=True
        )

    async def set_profile(self, client_id: str, profile: dict[str, Any]) -> None:
        details = {k: profile[k] for k in EMPLOYER_CONSENTED_DETAILS if k in profile}
        fields = {"profile": details, "consent_scopes": profile["consent_scopes"]}
        if profile.get("partnership"):
            fields["partnership"] = profile["partnership"]
        await self._candidates.update_one({"_id": client_id}, {"$set": fields}, upsert=True)

    async def set_partnership(self, client_id: str, partnership: str) -> None:
        """The client's partnership, which a placement must share with the vacancy."""
        await self._candidates.update_one(
            {"_id": client_id}, {"$set": {"partnership": partnership}}, upsert=True
        )

    async def candidates(self, client_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await find_by_ids(self._candidates, client_ids, self._profile)
