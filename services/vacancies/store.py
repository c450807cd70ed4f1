"""MongoDB adapter for the vacancies service: vacancies (with placements), submissions, and two
read models.

The read models are projections of other services' events, kept to what this service needs:
`shortlist` (one document per match, from matching) and `candidates` (one per client, from
referrals: consent in force, the few profile fields an employer may see with consent, the
client's partnership and referrals, so the lead provider is known; never priority groups,
benefit or health). A candidate also indexes the client's own placements and submissions here
by id, so the revolving door and "a client who starts work ends their other submissions" are
lookups by `_id`, not scans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.bulk import find_by_ids
from runtime.persistence import Persistence
from schemas.visibility import EMPLOYER_CONSENTED_DETAILS
from services.vacancies.domain import Vacancy
from services.vacancies.submissions import Submission


class VacanciesStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self._profile = persistence.profile
        self.vacancies = persistence.documents("vacancies", Vacancy, id_field="vacancy_id")
        self.submissions = persistence.documents(
            "submissions", Submission, id_field="submission_id"
        )
        self._employers = db["employers"]
        self._shortlist = db["shortlist"]
        self._candidates = db["candidates"]

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.vacancies.collection, self.submissions.collection]

    async def ensure_indexes(self) -> None:
        await self.vacancies.collection.create_index(
            [("partnership", ASCENDING), ("brokerage_id", ASCENDING), ("status", ASCENDING)]
        )
        await self.submissions.collection.create_index("live_key", unique=True)
        await self._shortlist.create_index([("vacancy_id", ASCENDING), ("score", DESCENDING)])

    async def register_employer(self, brokerage_id: str, employer_id: str, at: datetime) -> None:
        """An employer reference unknown to this brokerage is registered on first use."""
        await self._employers.update_one(
            {"_id": f"{brokerage_id}|{employer_id}"},
            {
                "$setOnInsert": {
                    "brokerage_id": brokerage_id,
                    "employer_id": employer_id,
                    "registered_at": at,
                }
            },
            upsert=True,
        )

    async def submissions_of_vacancy(self, vacancy_id: str) -> list[Submission]:
        # A scan on FerretDB; a listing for one brokerage screen, never on an event's path.
        return await self.submissions.find(
            {"vacancy_id": vacancy_id}, sort=[("created_at", 1)], limit=1000
        )

    # --- shortlist projection (from matching events) ---

    async def upsert_match(self, match: dict[str, Any], status: str) -> None:
        await self._shortlist.update_one(
            {"_id": match["match_id"]}, {"$set": {**match, "status": status}}, upsert=True
        )

    async def withdraw_match(self, match_id: str, reason: str) -> None:
        await self._shortlist.update_one(
            {"_id": match_id}, {"$set": {"status": "withdrawn", "withdrawn_reason": reason}}
        )

    async def match(self, match_id: str) -> dict[str, Any] | None:
        return await self._shortlist.find_one({"_id": match_id}, {"_id": 0})

    async def shortlist(self, vacancy_id: str) -> list[dict[str, Any]]:
        cursor = self._shortlist.find(
            {"vacancy_id": vacancy_id, "status": "proposed"}, {"_id": 0}
        ).sort("score", DESCENDING)
        return [doc async for doc in cursor]

    # --- candidates projection (from referrals events, and our own placements) ---

    async def _set(self, client_id: str, fields: dict[str, Any]) -> None:
        await self._candidates.update_one({"_id": client_id}, {"$set": fields}, upsert=True)

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        await self._set(client_id, {"consent_scopes": scopes})

    async def set_profile(self, client_id: str, profile: dict[str, Any]) -> None:
        details = {k: profile[k] for k in EMPLOYER_CONSENTED_DETAILS if k in profile}
        fields = {"profile": details, "consent_scopes": profile["consent_scopes"]}
        if profile.get("partnership"):
            fields["partnership"] = profile["partnership"]
        await self._set(client_id, fields)

    async def set_partnership(self, client_id: str, partnership: str) -> None:
        """The client's partnership, which a placement must share with the vacancy."""
        await self._set(client_id, {"partnership": partnership})

    async def note_referral(
        self, client_id: str, referral_id: str, provider_id: str, lead: bool, active: bool
    ) -> None:
        """The referral as its latest event states it (events of a client arrive in order)."""
        referral = {"provider_id": provider_id, "lead": lead, "active": active}
        await self._set(client_id, {f"referrals.{referral_id}": referral})

    async def note_placement(self, client_id: str, placement_id: str, vacancy_id: str) -> None:
        await self._set(client_id, {f"placements.{placement_id}": vacancy_id})

    async def note_submission(self, client_id: str, submission_id: str, vacancy_id: str) -> None:
        await self._set(client_id, {f"submissions.{submission_id}": vacancy_id})

    async def candidate(self, client_id: str) -> dict[str, Any]:
        return (await self.candidates([client_id])).get(client_id, {})

    async def candidates(self, client_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await find_by_ids(self._candidates, client_ids, self._profile)
