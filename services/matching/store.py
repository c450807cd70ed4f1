"""MongoDB adapter for matching: the client and vacancy pools it matches, and its matches."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.persistence import Persistence
from schemas.referrals import ACTIVE_REFERRAL_STATUSES
from services.matching.domain import Match
from services.matching.rules import ClientProfile, VacancySpec


class MatchingStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self.matches = persistence.documents("matches", Match, id_field="match_id")
        self._clients = db["clients"]
        self._vacancies = db["vacancies"]

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.matches.collection]

    async def ensure_indexes(self) -> None:
        await self.matches.collection.create_index(
            [("vacancy_id", ASCENDING), ("score", DESCENDING)]
        )
        await self.matches.collection.create_index([("client_id", ASCENDING)])
        await self._clients.create_index([("job_ready", ASCENDING)])
        await self._vacancies.create_index([("open", ASCENDING)])

    # --- the client pool (from referrals events) ---

    async def save_profile(self, profile: ClientProfile, consent_scopes: list[str]) -> None:
        # A job-ready event without a partnership (from before partnerships) keeps the one a
        # move may have recorded.
        fields = profile.model_dump(mode="json", exclude_none=True)
        await self._clients.update_one(
            {"_id": profile.client_id},
            {"$set": {**fields, "consent_scopes": consent_scopes}},
            upsert=True,
        )

    async def set_partnership(self, client_id: str, partnership: str) -> None:
        await self._clients.update_one(
            {"_id": client_id}, {"$set": {"partnership": partnership}}, upsert=True
        )

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        await self._clients.update_one(
            {"_id": client_id}, {"$set": {"consent_scopes": scopes}}, upsert=True
        )

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

    async def job_ready_clients(self) -> list[ClientProfile]:
        cursor = self._clients.find({"job_ready": True})
        return [ClientProfile.model_validate(doc) async for doc in cursor]

    @staticmethod
    def providers_of(client_doc: dict[str, Any] | None) -> set[str]:
        referrals = (client_doc or {}).get("referrals", {})
        return {
            r["provider_id"] for r in referrals.values() if r["status"] in ACTIVE_REFERRAL_STATUSES
        }

    # --- the vacancy pool (from vacancies events) ---

    async def save_vacancy(self, spec: VacancySpec) -> None:
        await self._vacancies.update_one(
            {"_id": spec.vacancy_id}, {"$set": spec.model_dump(mode="json")}, upsert=True
        )

    async def shut_vacancy(self, vacancy_id: str) -> None:
        await self._vacancies.update_one({"_id": vacancy_id}, {"$set": {"open": False}})

    async def open_vacancies(self) -> list[VacancySpec]:
        return [VacancySpec.model_validate(d) async for d in self._vacancies.find({"open": True})]

    # --- matches ---

    async def proposed_match_ids(self, **query: str) -> list[str]:
        cursor = self.matches.collection.find({**query, "status": "proposed"}, {"_id": 1})
        return [d["_id"] async for d in cursor]
