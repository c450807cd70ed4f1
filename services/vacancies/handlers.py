"""Kafka handlers of the vacancies service: keep the shortlist and candidate read models.

Every projection write is an upsert of the state the event states outright, so replaying an
event changes nothing. The composition root binds `store` (`runtime.handlers.bind`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from schemas import matching, referrals
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.vacancies.store import VacanciesStore


async def on_match_proposed(
    _: CloudEvent, match: matching.MatchProposed, *, store: VacanciesStore
) -> None:
    await store.upsert_match(match.model_dump(mode="json"), "proposed")


async def on_match_withdrawn(
    _: CloudEvent, data: matching.MatchWithdrawn, *, store: VacanciesStore
) -> None:
    await store.withdraw_match(data.match_id, data.reason)


async def on_consent(
    _: CloudEvent,
    data: referrals.ConsentRecorded | referrals.ConsentWithdrawn,
    *,
    store: VacanciesStore,
) -> None:
    await store.set_consent(data.client_id, list(data.current_scopes))


async def on_job_ready(
    _: CloudEvent, data: referrals.ClientJobReady, *, store: VacanciesStore
) -> None:
    await store.set_profile(data.client_id, data.model_dump(mode="json"))


async def on_client_moved(
    _: CloudEvent, data: referrals.ClientMoved, *, store: VacanciesStore
) -> None:
    await store.set_partnership(data.client_id, data.to_partnership)


HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]]] = {
    matching.MatchProposed: on_match_proposed,
    matching.MatchWithdrawn: on_match_withdrawn,
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
    referrals.ClientJobReady: on_job_ready,
    referrals.ClientMoved: on_client_moved,
}
