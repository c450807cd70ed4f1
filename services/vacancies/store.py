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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.bulk import find_by_ids, insert_or_set
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
        self._shortlist_index = db["shortlist_index"]
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
    # One document per match in `shortlist` (`_id` = match id: what a submission names) and one
    # per vacancy in `shortlist_index` (`_id` = vacancy id) naming its live matches with what
    # orders them, so a shortlist is two reads by `_id`, never a scan. Matching's events are
    # keyed by vacancy and a partition's batch is handled in order, so a vacancy's index has one
    # writer at a time and sees its matches' proposals and withdrawals in the order they happened.

    async def upsert_match(self, match: dict[str, Any], status: str) -> None:
        """A proposal (or re-proposal, which re-scores and may re-rank): the match as stated."""
        match_id = match["match_id"]
        await self._shortlist.update_one(
            {"_id": match_id}, {"$set": {**match, "status": status}}, upsert=True
        )
        entry = {"score": match["score"], "priority": bool(match.get("priority"))}
        fields: dict[str, Any] = {f"live.{match_id}": entry}
        if match.get("shortlist_size"):
            fields["size"] = match["shortlist_size"]
        await self._shortlist_index.update_one(
            {"_id": match["vacancy_id"]}, {"$set": fields}, upsert=True
        )

    async def withdraw_match(self, match_id: str, reason: str, vacancy_id: str) -> None:
        await self._shortlist.update_one(
            {"_id": match_id}, {"$set": {"status": "withdrawn", "withdrawn_reason": reason}}
        )
        await self._shortlist_index.update_one(
            {"_id": vacancy_id}, {"$unset": {f"live.{match_id}": ""}}
        )

    async def match(self, match_id: str) -> dict[str, Any] | None:
        return await self._shortlist.find_one({"_id": match_id}, {"_id": 0})

    async def shortlist(self, vacancy_id: str) -> list[dict[str, Any]]:
        """The live matches, ranked (see `ranked_shortlist`)."""
        index = await self._shortlist_index.find_one({"_id": vacancy_id}) or {}
        docs = await find_by_ids(self._shortlist, sorted(index.get("live", {})), self._profile)
        return ranked_shortlist(list(docs.values()), index.get("size"))

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

    async def set_partnerships(self, partnerships: Mapping[str, str]) -> None:
        """Many clients' partnerships at once: a flood of registrations, mostly new clients."""
        fields = {client_id: {"partnership": p} for client_id, p in partnerships.items()}
        await insert_or_set(self._candidates, fields, self._profile)

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


def ranked_shortlist(matches: list[dict[str, Any]], size: int | None) -> list[dict[str, Any]]:
    """Proposed matches in shortlist order: routeway graduates (`priority`) first, then by score
    (then match id, so equal scores keep one order); at most `size` of them; `rank` is each
    one's place in that order now (a proposal's own rank goes stale as others come and go)."""
    live = [
        {k: v for k, v in m.items() if k != "_id"} for m in matches if m.get("status") == "proposed"
    ]
    live.sort(key=lambda m: (not m.get("priority", False), -m["score"], m["match_id"]))
    if size:
        live = live[:size]
    for rank, m in enumerate(live, start=1):
        m["rank"] = rank
    return live
