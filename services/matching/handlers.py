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
from schemas.matching import WithdrawalReason
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


async def consider_client(store: MatchingStore, client: ClientProfile, wrap: Wrap) -> None:
    """Evaluate one client against every open vacancy: a pair whose gates now fail (consent,
    partnership) is withdrawn, one that passes again is re-proposed."""
    # One query for the client's matches, not one per vacancy.
    known = await store.matches.find({"client_id": client.client_id})
    matches = {m.vacancy_id: m for m in known}
    for vacancy in await store.open_vacancies():
        await consider(store, client, vacancy, matches.get(vacancy.vacancy_id), wrap)


async def on_job_ready(
    event: CloudEvent, data: referrals.ClientJobReady, *, store: MatchingStore
) -> None:
    profile = ClientProfile.model_validate(data.model_dump())
    await store.save_profile(profile, list(data.consent_scopes))
    if profile.partnership is None:
        # A feed that has not caught up with partnerships: the one a move recorded, if any.
        stored = await store.client_doc(data.client_id) or {}
        profile = profile.model_copy(update={"partnership": stored.get("partnership")})
    await consider_client(store, profile, enveloper(SOURCE, cause=event))


async def _reconsider(store: MatchingStore, client_id: str, event: CloudEvent) -> None:
    """Re-evaluate a job-ready client after its consent or partnership changed. A client who is
    not job-ready has no matches: nothing to read beyond its own document."""
    doc = await store.client_doc(client_id)
    if not doc or not doc.get("job_ready"):
        return
    await consider_client(store, ClientProfile.model_validate(doc), enveloper(SOURCE, cause=event))


async def on_consent(
    event: CloudEvent,
    data: referrals.ConsentRecorded | referrals.ConsentWithdrawn,
    *,
    store: MatchingStore,
) -> None:
    """Without `providers` consent the client's live matches are withdrawn (`consent-withdrawn`)
    and none proposed; recording it again brings them back."""
    await store.set_consent(data.client_id, list(data.current_scopes))
    await _reconsider(store, data.client_id, event)


async def on_client_moved(
    event: CloudEvent, data: referrals.ClientMoved, *, store: MatchingStore
) -> None:
    """A client who moves is matched with the new partnership's vacancies, no longer the old."""
    await store.set_partnership(data.client_id, data.to_partnership)
    await _reconsider(store, data.client_id, event)


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
    reason: WithdrawalReason = (
        "vacancy-filled" if isinstance(data, vacancies.VacancyFilled) else "vacancy-closed"
    )
    for match_id in await store.proposed_match_ids(vacancy_id=data.vacancy_id):
        await store.matches.mutate(
            {"_id": match_id}, lambda m: m.withdraw(reason), enveloper(SOURCE, cause=event)
        )


HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]]] = {
    referrals.ClientJobReady: on_job_ready,
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
    referrals.ClientMoved: on_client_moved,
    **dict.fromkeys(referrals.REFERRAL_LIFECYCLE, on_referral),
    vacancies.VacancyScoped: on_vacancy_scoped,
    vacancies.VacancyClosed: on_vacancy_shut,
    vacancies.VacancyFilled: on_vacancy_shut,
}
