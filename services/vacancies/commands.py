"""What the vacancies service's calls do, beyond one rule on one aggregate: submissions that
check the match, consent and vacancy first, and placements that credit the lead provider.

Placements are started on the vacancy first, then the submission is marked `placed`; the
placement id derives from the submission, so a retried accept places nobody twice, and the
reaction to `placement.started` repeats the marking if a crash cut it short.
"""

from __future__ import annotations

from datetime import date, datetime

from runtime.documents import AlreadyExists
from runtime.errors import Conflict, Invalid, NotFound
from runtime.events import Wrap
from runtime.ids import derived_id, new_id
from runtime.working_days import london_date
from services.vacancies import domain
from services.vacancies.domain import PLACEABLE, Vacancy
from services.vacancies.store import VacanciesStore
from services.vacancies.submissions import Submission, check_guarantees


async def submit(
    store: VacanciesStore, vacancy: Vacancy, match_id: str, now: datetime, wrap: Wrap
) -> Submission:
    """Put the client of a live match forward: 409 when the match is not live (for this
    vacancy), the vacancy takes nobody, the client has no `employers` consent, or the client
    already has a live submission to this vacancy."""
    match = await store.match(match_id)
    live = match is not None and match.get("status") == "proposed"
    if not live or match["vacancy_id"] != vacancy.vacancy_id:  # type: ignore[index]
        raise Conflict("the match is not live")
    if vacancy.status not in PLACEABLE:
        raise Conflict(f"cannot submit to a vacancy that is {vacancy.status}")
    client_id = match["client_id"]
    if not domain.has_employers_consent(await store.candidate(client_id)):
        raise Conflict("the client has not consented to share with employers")
    submission, events = Submission.submit(
        submission_id=new_id("SUB"),
        vacancy_id=vacancy.vacancy_id,
        client_id=client_id,
        match_id=match_id,
        brokerage_id=vacancy.brokerage_id,
        partnership=vacancy.partnership,
        at=now,
    )
    try:
        await store.submissions.add(submission, wrap(events))
    except AlreadyExists:
        # The unique live key: a live submission of this client to this vacancy exists.
        raise Conflict("the client already has a live submission to this vacancy") from None
    await store.note_submission(client_id, submission.submission_id, vacancy.vacancy_id)
    return submission


async def move(
    store: VacanciesStore, submission_id: str, action: str, now: datetime, wrap: Wrap, **kw: object
) -> Submission:
    if action == "no-offer":
        await _check_guarantees(store, submission_id, action)
    return await store.submissions.mutate(
        {"_id": submission_id},
        lambda s: s.apply(action, now, **kw),
        wrap,  # type: ignore[arg-type]
    )


async def _check_guarantees(store: VacanciesStore, submission_id: str, action: str) -> None:
    loaded = await store.submissions.get(submission_id)
    if loaded is None:
        raise NotFound("no such submission")
    submission = loaded.aggregate
    vacancy = await store.vacancies.get(submission.vacancy_id)
    if vacancy is None or vacancy.aggregate.spec is None:
        return
    match = await store.match(submission.match_id) if submission.match_id else None
    graduate = bool(match and match.get("priority"))
    check_guarantees(action, submission, vacancy.aggregate.spec.guarantees, graduate)


async def place(
    store: VacanciesStore,
    vacancy_id: str,
    client_id: str,
    start_date: date,
    hours_per_week: float,
    now: datetime,
    wrap: Wrap,
    *,
    placement_id: str | None = None,
    match_id: str | None = None,
    submission_id: str | None = None,
) -> str:
    """Start a placement: the client must belong to the vacancy's partnership (422); the lead
    provider the client has now is the one credited."""
    loaded = await store.vacancies.get(vacancy_id)
    if loaded is None:
        raise NotFound("no such vacancy")
    candidate = await store.candidate(client_id)
    if not domain.client_may_be_placed(loaded.aggregate, candidate.get("partnership")):
        raise Invalid("the client does not belong to the vacancy's partnership", field="client_id")
    placement_id = placement_id or new_id("PL")
    lead = domain.lead_provider(candidate)
    today = london_date(now)

    def start(v: Vacancy) -> list:
        return v.place(
            placement_id, client_id, start_date, hours_per_week, today=today,
            lead_provider_id=lead, match_id=match_id, submission_id=submission_id,
        )  # fmt: skip

    await store.vacancies.mutate({"_id": vacancy_id}, start, wrap)
    await store.note_placement(client_id, placement_id, vacancy_id)
    return placement_id


def placement_id_for(submission_id: str) -> str:
    """The one placement an accepted submission makes: a retried accept finds it there."""
    return derived_id("PL", submission_id)


async def accept(
    store: VacanciesStore,
    submission: Submission,
    start_date: date,
    hours_per_week: float,
    now: datetime,
    wrap: Wrap,
) -> str:
    """The client accepted the offer: a placement starts from it, and the submission is placed."""
    if submission.status != "offer":
        raise Conflict(f"cannot accept a submission that is {submission.status}")
    placement_id = await place(
        store,
        submission.vacancy_id,
        submission.client_id,
        start_date,
        hours_per_week,
        now,
        wrap,
        placement_id=placement_id_for(submission.submission_id),
        match_id=submission.match_id,
        submission_id=submission.submission_id,
    )
    await mark_placed(store, submission.submission_id, placement_id, now, wrap)
    return placement_id


async def mark_placed(
    store: VacanciesStore, submission_id: str, placement_id: str, now: datetime, wrap: Wrap
) -> None:
    """Idempotent: a submission already placed (or ended meanwhile) is left as it is."""
    loaded = await store.submissions.get(submission_id)
    if loaded is None or loaded.aggregate.status != "offer":
        return
    try:
        await move(store, submission_id, "accept", now, wrap, placement_id=placement_id)
    except Conflict:
        return  # moved on concurrently


async def decline_other_submissions(
    store: VacanciesStore, client_id: str, keep: str | None, now: datetime, wrap: Wrap
) -> None:
    """The client started work: their other live submissions end as `declined`."""
    candidate = await store.candidate(client_id)
    ids = [s for s in (candidate.get("submissions") or {}) if s != keep]
    for loaded in (await store.submissions.get_many(ids)).values():
        if not loaded.aggregate.is_live:
            continue
        try:
            await move(store, loaded.aggregate.submission_id, "declined", now, wrap)
        except Conflict:
            continue  # ended meanwhile
