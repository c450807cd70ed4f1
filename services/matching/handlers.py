"""Kafka handlers of the matching service: keep the pools current and (re)evaluate pairs.

The composition root binds `store` (`runtime.handlers.bind`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from runtime.documents import AlreadyExists
from runtime.events import Wrap, enveloper
from schemas import referrals, vacancies
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.matching.domain import Match
from services.matching.rules import ClientProfile, VacancySpec, evaluate
from services.matching.store import MatchingStore

SOURCE = "/services/matching"


async def consider(
    store: MatchingStore,
    client: ClientProfile,
    vacancy: VacancySpec,
    existing: Match | None,
    wrap: Wrap,
) -> None:
    """Propose, re-score or withdraw the match of one pair. Idempotent: the match id is
    derived from the pair and event ids from the cause, so a replay changes nothing."""
    evaluation = evaluate(client, vacancy)
    if existing is None:
        if not evaluation.proposable:
            return
        match, events = Match.propose(client, vacancy, evaluation)
        # AlreadyExists: proposed by an earlier delivery of this very event.
        with contextlib.suppress(AlreadyExists):
            await store.matches.add(match, wrap(events))
        return
    if not existing.model_copy(deep=True).reevaluate(evaluation):
        return  # nothing would change: spare the write
    await store.matches.mutate({"_id": existing.match_id}, lambda m: m.reevaluate(evaluation), wrap)


async def on_job_ready(
    event: CloudEvent, data: referrals.ClientJobReady, *, store: MatchingStore
) -> None:
    profile = ClientProfile.model_validate(data.model_dump())
    await store.save_profile(profile, list(data.consent_scopes))
    # One query for the client's matches, not one per vacancy.
    known = await store.matches.find({"client_id": data.client_id})
    matches = {m.vacancy_id: m for m in known}
    wrap = enveloper(SOURCE, cause=event)
    for vacancy in await store.open_vacancies():
        await consider(store, profile, vacancy, matches.get(vacancy.vacancy_id), wrap)


async def on_consent(
    _: CloudEvent,
    data: referrals.ConsentRecorded | referrals.ConsentWithdrawn,
    *,
    store: MatchingStore,
) -> None:
    await store.set_consent(data.client_id, list(data.current_scopes))


async def on_referral(
    _: CloudEvent, data: referrals._ReferralEvent, *, store: MatchingStore
) -> None:
    await store.set_referral(data.client_id, data.referral_id, data.provider_id, data.status)


async def on_vacancy_scoped(
    event: CloudEvent, data: vacancies.VacancyScoped, *, store: MatchingStore
) -> None:
    spec = VacancySpec.model_validate(data.model_dump())
    await store.save_vacancy(spec)
    # Every job-ready client, not only likely ones: a re-scope must also withdraw the
    # matches it made ineligible. A full scan of the pool; prefiltering on the gates is
    # the next step when pools grow (bench/matching_bench.py measures it).
    known = await store.matches.find({"vacancy_id": spec.vacancy_id})
    matches = {m.client_id: m for m in known}
    wrap = enveloper(SOURCE, cause=event)
    for client in await store.job_ready_clients():
        await consider(store, client, spec, matches.get(client.client_id), wrap)


async def on_vacancy_shut(
    event: CloudEvent,
    data: vacancies.VacancyClosed | vacancies.VacancyFilled,
    *,
    store: MatchingStore,
) -> None:
    await store.shut_vacancy(data.vacancy_id)
    reason = f"vacancy {data.status}"
    for match_id in await store.proposed_match_ids(vacancy_id=data.vacancy_id):
        await store.matches.mutate(
            {"_id": match_id}, lambda m: m.withdraw(reason), enveloper(SOURCE, cause=event)
        )


HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]]] = {
    referrals.ClientJobReady: on_job_ready,
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
    **dict.fromkeys(referrals.REFERRAL_LIFECYCLE, on_referral),
    vacancies.VacancyScoped: on_vacancy_scoped,
    vacancies.VacancyClosed: on_vacancy_shut,
    vacancies.VacancyFilled: on_vacancy_shut,
}
