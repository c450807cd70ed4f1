"""Kafka handlers of the vacancies service for other services' events: the shortlist and
candidate read models, and the revolving door.

Every projection write is an upsert of the state the event states outright, so replaying an
event changes nothing. A reclaim changes the client's placements under compare-and-set, and
each placement is ended or marked at most once. The composition root binds `store` and `clock`
(`runtime.handlers.bind`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from runtime.errors import NotFound
from runtime.events import enveloper
from runtime.handlers import Batched
from schemas import matching, referrals
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import SOURCE

# A referral in one of these holds the client: its lead provider is the client's lead provider.
ACTIVE_REFERRAL = frozenset({"created", "on-hold", "accepted", "started"})


async def on_match_proposed(
    _: CloudEvent, match: matching.MatchProposed, *, store: VacanciesStore
) -> None:
    """On the vacancy's shortlist, or re-scored there (the same `match_id` again)."""
    await store.upsert_match(match.model_dump(mode="json"), "proposed")


async def on_match_withdrawn(
    _: CloudEvent, data: matching.MatchWithdrawn, *, store: VacanciesStore
) -> None:
    """Off the shortlist; the match stays readable by id (a submission names it)."""
    await store.withdraw_match(data.match_id, data.reason, data.vacancy_id)


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


async def on_clients_registered(
    registered: Sequence[tuple[CloudEvent, referrals.ClientRegistered]], *, store: VacanciesStore
) -> None:
    """Each client's partnership, a run of registrations at once: JCP's register arrives as a
    flood, and one write after another would hold the group back (the last of a client wins,
    as in order)."""
    latest = {data.client_id: data.partnership for _, data in registered if data.partnership}
    await store.set_partnerships(latest)


async def on_client_moved(
    _: CloudEvent, data: referrals.ClientMoved, *, store: VacanciesStore
) -> None:
    await store.set_partnership(data.client_id, data.to_partnership)


async def on_referral(
    _: CloudEvent, data: referrals._ReferralEvent, *, store: VacanciesStore
) -> None:
    """Each referral as it stands, so a placement knows the client's lead provider."""
    active = data.status in ACTIVE_REFERRAL
    await store.note_referral(data.client_id, data.referral_id, data.provider_id, data.lead, active)


async def on_reclaimed(
    event: CloudEvent, data: referrals.ClientReclaimed, *, store: VacanciesStore
) -> None:
    """The revolving door: the client's placements are ended or marked (see `Vacancy.reclaimed`)."""
    candidate = await store.candidate(data.client_id)
    vacancy_ids = sorted(set((candidate.get("placements") or {}).values()))
    wrap = enveloper(SOURCE, cause=event)
    for vacancy_id, loaded in (await store.vacancies.get_many(vacancy_ids)).items():
        if not loaded.aggregate.reclaimed(data.client_id, data.reclaim_date):
            continue  # nothing of this client's to end or mark here: no write
        try:
            await store.vacancies.mutate(
                {"_id": vacancy_id},
                lambda v: v.reclaimed(data.client_id, data.reclaim_date),
                wrap,
            )
        except NotFound:
            continue


REFERRAL_EVENTS = (
    referrals.ReferralCreated,
    referrals.ReferralAccepted,
    referrals.ReferralRejected,
    referrals.ReferralStarted,
    referrals.ReferralCompleted,
    referrals.ReferralDroppedOut,
    referrals.ReferralWithdrawn,
    referrals.ReferralOnHold,
    referrals.ReferralReleased,
    referrals.ReferralDidNotStart,
    referrals.ReferralExpired,
)

HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]] | Batched] = {
    matching.MatchProposed: on_match_proposed,
    matching.MatchWithdrawn: on_match_withdrawn,
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
    referrals.ClientJobReady: on_job_ready,
    referrals.ClientRegistered: Batched(on_clients_registered),
    referrals.ClientMoved: on_client_moved,
    referrals.ClientReclaimed: on_reclaimed,
    **dict.fromkeys(REFERRAL_EVENTS, on_referral),
}
