"""Kafka handlers of the matching service: keep the pools current and queue what changed.

Handlers never allocate: they record the client or vacancy as it now is (by `_id`) and queue
the change for its partnership's allocator (`allocator.py`), which re-solves the shortlists
the change affects, in one place per partnership, whichever replica consumed the event. A
redelivery writes the same fields and queues the same entry (keyed by the event), so it is a
no-op. The composition root binds `store` (`runtime.handlers.bind`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from schemas import referrals, vacancies
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.matching.store import MatchingStore

CLIENT, VACANCY = "client", "vacancy"


async def _client_changed(
    store: MatchingStore, event: CloudEvent, client_id: str, fields: dict[str, Any]
) -> None:
    doc = await store.update_client(client_id, fields)
    await store.enqueue(doc.get("partnership"), CLIENT, client_id, event.id)


async def on_job_ready(
    event: CloudEvent, data: referrals.ClientJobReady, *, store: MatchingStore
) -> None:
    fields = data.model_dump(mode="json", exclude_none=True)
    # Ready for work: no barrier blocks it now (an assessment with one would have refused it).
    fields.update(job_ready=True, blocking_barriers=0)
    await _client_changed(store, event, data.client_id, fields)


async def on_assessed(
    event: CloudEvent, data: referrals.ClientAssessed, *, store: MatchingStore
) -> None:
    """A new assessment: not job-ready until `job-ready` comes again; a blocking barrier is a
    gate of its own (its withdrawal reads `gate-failed`)."""
    await _client_changed(
        store,
        event,
        data.client_id,
        {
            "job_ready": False,
            "blocking_barriers": data.blocking_barriers,
            "qualification_level": data.qualification_level,
            "literacy": data.literacy,
            "numeracy": data.numeracy,
        },
    )


async def on_consent(
    event: CloudEvent,
    data: referrals.ConsentRecorded | referrals.ConsentWithdrawn,
    *,
    store: MatchingStore,
) -> None:
    """Without `providers` consent the client's live matches are withdrawn (`consent-withdrawn`)
    and none proposed; recording it again brings them back."""
    await _client_changed(
        store, event, data.client_id, {"consent_scopes": list(data.current_scopes)}
    )


async def on_client_moved(
    event: CloudEvent, data: referrals.ClientMoved, *, store: MatchingStore
) -> None:
    """The old partnership withdraws the client's matches, the new one matches them."""
    await store.enqueue(data.from_partnership, CLIENT, data.client_id, event.id)
    await _client_changed(
        store, event, data.client_id, {"partnership": data.to_partnership, "ward": data.ward}
    )


async def on_off_flowed(
    event: CloudEvent, data: referrals.ClientOffFlowed, *, store: MatchingStore
) -> None:
    if data.reason == "job":  # off benefit into work: not matchable while in work
        await _client_changed(store, event, data.client_id, {"in_work": True})


async def on_referral(
    event: CloudEvent, data: referrals._ReferralEvent, *, store: MatchingStore
) -> None:
    await store.set_referral(data.client_id, data.referral_id, data.provider_id, data.status)
    if isinstance(data, referrals.ReferralCompleted):
        # A completed routeway ranks the client first for vacancies that name it.
        doc = await store.add_programme(data.client_id, data.programme)
        await store.enqueue(doc.get("partnership"), CLIENT, data.client_id, event.id)


async def on_placement_started(
    event: CloudEvent, data: vacancies.PlacementStarted, *, store: MatchingStore
) -> None:
    """In work: every other live match of the client is withdrawn as `placed`."""
    await _client_changed(store, event, data.client_id, {"in_work": True})


async def on_placement_ended(
    event: CloudEvent, data: vacancies.PlacementEnded, *, store: MatchingStore
) -> None:
    """Back in the pool (if still job-ready and consenting)."""
    await _client_changed(store, event, data.client_id, {"in_work": False})


async def _vacancy_changed(
    store: MatchingStore, event: CloudEvent, data: vacancies._VacancyEvent, fields: dict[str, Any]
) -> None:
    doc = await store.update_vacancy(data.vacancy_id, fields)
    await store.enqueue(doc.get("partnership"), VACANCY, data.vacancy_id, event.id)


async def on_vacancy_scoped(
    event: CloudEvent, data: vacancies.VacancyScoped, *, store: MatchingStore
) -> None:
    fields = data.model_dump(mode="json")
    fields.update(open=True, status="open")
    await _vacancy_changed(store, event, data, fields)


async def on_partly_filled(
    event: CloudEvent, data: vacancies.VacancyPartlyFilled, *, store: MatchingStore
) -> None:
    """Fewer positions left: a shortlist of the default size shrinks with them."""
    await _vacancy_changed(
        store, event, data, {"positions_left": data.positions_left, "status": data.status}
    )


async def on_vacancy_shut(
    event: CloudEvent,
    data: vacancies.VacancyClosed | vacancies.VacancyFilled | vacancies.VacancyExpired,
    *,
    store: MatchingStore,
) -> None:
    """No more matches; live ones are withdrawn as `vacancy-closed`, `-filled` or `-expired`."""
    await _vacancy_changed(store, event, data, {"open": False, "status": data.status})


HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]]] = {
    referrals.ClientJobReady: on_job_ready,
    referrals.ClientAssessed: on_assessed,
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
    referrals.ClientMoved: on_client_moved,
    referrals.ClientOffFlowed: on_off_flowed,
    **dict.fromkeys(referrals.REFERRAL_LIFECYCLE, on_referral),
    vacancies.VacancyScoped: on_vacancy_scoped,
    vacancies.VacancyPartlyFilled: on_partly_filled,
    vacancies.VacancyClosed: on_vacancy_shut,
    vacancies.VacancyFilled: on_vacancy_shut,
    vacancies.VacancyExpired: on_vacancy_shut,
    vacancies.PlacementStarted: on_placement_started,
    vacancies.PlacementEnded: on_placement_ended,
}
