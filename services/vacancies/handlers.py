"""Kafka handlers of the vacancies service: keep the shortlist and candidate read models."""

from __future__ import annotations

from runtime.consumer import Handler
from schemas import matching, referrals
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.vacancies.store import VacanciesStore


def build_handlers(store: VacanciesStore) -> dict[type[EventData], Handler]:
    # Every projection write is an upsert of the state the event states outright, so
    # replaying an event changes nothing.

    async def on_match_proposed(_: CloudEvent, match: matching.MatchProposed) -> None:
        await store.upsert_match(match.model_dump(mode="json"), "proposed")

    async def on_match_withdrawn(_: CloudEvent, data: matching.MatchWithdrawn) -> None:
        await store.withdraw_match(data.match_id, data.reason)

    async def on_consent(
        _: CloudEvent, data: referrals.ConsentRecorded | referrals.ConsentWithdrawn
    ) -> None:
        await store.set_consent(data.client_id, list(data.current_scopes))

    async def on_job_ready(_: CloudEvent, data: referrals.ClientJobReady) -> None:
        await store.set_profile(data.client_id, data.model_dump(mode="json"))

    return {
        matching.MatchProposed: on_match_proposed,
        matching.MatchWithdrawn: on_match_withdrawn,
        referrals.ConsentRecorded: on_consent,
        referrals.ConsentWithdrawn: on_consent,
        referrals.ClientJobReady: on_job_ready,
    }
