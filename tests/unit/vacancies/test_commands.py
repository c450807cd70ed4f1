"""The employer side over an in-memory store: submissions checked against the match, consent
and the live key; placements crediting the lead provider; the reactions to our own events
(timers, the submission placed, other submissions declined); timers firing twice; the
revolving door from a reclaim."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from runtime.errors import Conflict, Invalid
from runtime.events import enveloper
from schemas import referrals as rev
from schemas import vacancies as ev
from schemas.envelope import CloudEvent
from services.vacancies import commands, handlers, reactions, sustainment
from services.vacancies.domain import PersonSpecification, Vacancy
from tests.unit.vacancies.fake_store import FakeStore, FixedClock, RecordingTimers

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)
CW = "cheshire-warrington"
FIELDS: dict[str, Any] = {
    "employer_id": "E-01",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 2,
    "hours_per_week": 24,
    "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    "closing_date": date(2026, 12, 31),
}
wrap = enveloper("/test")


async def world(vacancies: tuple[str, ...] = ("VAC-1",)) -> FakeStore:
    store = FakeStore()
    for vacancy_id in vacancies:
        vacancy, _ = Vacancy.post(vacancy_id, "EB-01", NOW, partnership=CW, **FIELDS)
        vacancy.scope(PersonSpecification())
        await store.vacancies.add(vacancy)
    for n in (1, 2):
        client = f"CL-{n}"
        await store.set_partnership(client, CW)
        await store.set_consent(client, ["providers", "employers"])
        await store.note_referral(client, f"RF-{n}", "P-02", lead=False, active=True)
        await store.note_referral(client, f"RF-{n}L", "P-01", lead=True, active=True)
        for vacancy_id in vacancies:
            match_id = f"M-{vacancy_id}-{client}"
            store.matches[match_id] = {
                "match_id": match_id, "vacancy_id": vacancy_id, "client_id": client,
                "status": "proposed",
            }  # fmt: skip
    return store


async def vacancy(store: FakeStore, vacancy_id: str = "VAC-1") -> Vacancy:
    loaded = await store.vacancies.get(vacancy_id)
    assert loaded is not None
    return loaded.aggregate


async def offered(store: FakeStore, vacancy_id: str = "VAC-1", client: str = "CL-1"):
    submission = await commands.submit(
        store, await vacancy(store, vacancy_id), f"M-{vacancy_id}-{client}", NOW, wrap
    )
    return await commands.move(store, submission.submission_id, "offer", NOW, wrap)


def cloud(data: Any) -> CloudEvent:
    (event,) = enveloper("/test")([data])
    return event


# --- Submissions ---------------------------------------------------------------------------------


async def test_a_submission_of_a_live_match_with_employers_consent_is_made_once() -> None:
    store = await world()
    submission = await commands.submit(store, await vacancy(store), "M-VAC-1-CL-1", NOW, wrap)
    assert submission.status == "submitted" and submission.client_id == "CL-1"
    assert store.clients["CL-1"]["submissions"] == {submission.submission_id: "VAC-1"}
    with pytest.raises(Conflict, match="live submission"):
        await commands.submit(store, await vacancy(store), "M-VAC-1-CL-1", NOW, wrap)
    await commands.move(store, submission.submission_id, "no-offer", NOW, wrap)
    again = await commands.submit(store, await vacancy(store), "M-VAC-1-CL-1", NOW, wrap)
    assert again.submission_id != submission.submission_id, "once the first one ended"


@pytest.mark.parametrize("why", ["withdrawn", "unknown", "other vacancy", "no consent"])
async def test_a_submission_is_refused_with_409(why: str) -> None:
    store = await world(("VAC-1", "VAC-2"))
    match_id = "M-VAC-1-CL-1"
    if why == "withdrawn":
        store.matches[match_id]["status"] = "withdrawn"
    elif why == "unknown":
        match_id = "M-404"
    elif why == "other vacancy":
        match_id = "M-VAC-2-CL-1"
    else:
        await store.set_consent("CL-1", ["providers"])
    with pytest.raises(Conflict):
        await commands.submit(store, await vacancy(store), match_id, NOW, wrap)
    assert store.submissions.docs == {}


async def test_a_closed_vacancy_takes_no_submission() -> None:
    store = await world()
    await store.vacancies.mutate({"_id": "VAC-1"}, lambda v: v.close("gone"), wrap)
    with pytest.raises(Conflict):
        await commands.submit(store, await vacancy(store), "M-VAC-1-CL-1", NOW, wrap)


# --- Placements ----------------------------------------------------------------------------------


async def test_an_accepted_offer_starts_a_placement_crediting_the_lead_provider() -> None:
    store = await world()
    submission = await offered(store)
    placement_id = await commands.accept(store, submission, TODAY, 24, NOW, wrap)
    placement = (await vacancy(store)).placement(placement_id)
    assert placement.lead_provider_id == "P-01", "the active lead referral's provider"
    assert placement.match_id == "M-VAC-1-CL-1"
    assert placement.submission_id == submission.submission_id
    (started,) = [e for e in store.vacancies.events if e["type"].endswith("placement.started")]
    assert started["data"]["lead_provider_id"] == "P-01"
    stored = await store.submissions.get(submission.submission_id)
    assert stored is not None and stored.aggregate.status == "placed"
    assert stored.aggregate.placement_id == placement_id
    assert store.clients["CL-1"]["placements"] == {placement_id: "VAC-1"}
    # Retried: the same placement id, no second placement, and the submission is not `offer`.
    with pytest.raises(Conflict):
        await commands.accept(store, stored.aggregate, TODAY, 24, NOW, wrap)
    assert placement_id == commands.placement_id_for(submission.submission_id)
    assert len((await vacancy(store)).placements) == 1


async def test_accepting_anything_but_an_offer_is_a_conflict() -> None:
    store = await world()
    submission = await commands.submit(store, await vacancy(store), "M-VAC-1-CL-1", NOW, wrap)
    with pytest.raises(Conflict):
        await commands.accept(store, submission, TODAY, 24, NOW, wrap)


async def test_no_lead_referral_credits_nobody() -> None:
    store = await world()
    await store.note_referral("CL-1", "RF-1L", "P-01", lead=True, active=False)
    placement_id = await commands.place(store, "VAC-1", "CL-1", TODAY, 24, NOW, wrap)
    assert (await vacancy(store)).placement(placement_id).lead_provider_id is None


@pytest.mark.parametrize("partnership", ["bcbc", None])
async def test_a_client_outside_the_vacancys_partnership_is_invalid(partnership) -> None:
    store = await world()
    if partnership is None:
        del store.clients["CL-1"]["partnership"]
    else:
        await store.set_partnership("CL-1", partnership)
    with pytest.raises(Invalid) as error:
        await commands.place(store, "VAC-1", "CL-1", TODAY, 24, NOW, wrap)
    assert error.value.field == "client_id"


async def test_a_start_date_is_judged_against_the_clocks_today() -> None:
    store = await world()
    with pytest.raises(Invalid):
        await commands.place(store, "VAC-1", "CL-1", date(2000, 1, 1), 24, NOW, wrap)
    later = NOW + timedelta(days=400)
    with pytest.raises(Invalid):
        await commands.place(store, "VAC-1", "CL-1", TODAY, 24, later, wrap)


# --- Reactions to our own events -----------------------------------------------------------------


def deps(store: FakeStore, now: datetime = NOW) -> reactions.Deps:
    return reactions.Deps(store, RecordingTimers(), FixedClock(now))  # type: ignore[arg-type]


async def test_a_posted_vacancy_gets_its_expiry_timer_at_the_end_of_its_closing_date() -> None:
    store = await world()
    d = deps(store)
    posted = ev.VacancyPosted(
        vacancy_id="VAC-1", employer_id="E-01", brokerage_id="EB-01", **{
            k: FIELDS[k] for k in ("title", "sector", "positions", "hours_per_week",
                                   "location", "closing_date")
        },
    )  # fmt: skip
    await reactions.on_vacancy_posted(cloud(posted), posted, deps=d)
    (timer,) = d.timers.scheduled.values()  # type: ignore[attr-defined]
    assert timer.kind == sustainment.EXPIRY and timer.target_id == "VAC-1"
    assert timer.due == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


async def test_a_started_placement_gets_its_timers_and_ends_the_clients_other_submissions() -> None:
    store = await world(("VAC-1", "VAC-2", "VAC-3"))
    elsewhere = await commands.submit(
        store, await vacancy(store, "VAC-2"), "M-VAC-2-CL-1", NOW, wrap
    )
    ended = await commands.submit(store, await vacancy(store, "VAC-3"), "M-VAC-3-CL-1", NOW, wrap)
    await commands.move(store, ended.submission_id, "no-offer", NOW, wrap)
    other_client = await commands.submit(
        store, await vacancy(store, "VAC-2"), "M-VAC-2-CL-2", NOW, wrap
    )
    submission = await offered(store)
    placement_id = commands.placement_id_for(submission.submission_id)
    # As if the call died after the placement, before the submission was marked placed.
    await store.vacancies.mutate(
        {"_id": "VAC-1"},
        lambda v: v.place(
            placement_id, "CL-1", TODAY, 24, today=TODAY, submission_id=submission.submission_id
        ),
        wrap,
    )
    started = ev.PlacementStarted(
        placement_id=placement_id, vacancy_id="VAC-1", client_id="CL-1", employer_id="E-01",
        brokerage_id="EB-01", start_date=TODAY, hours_per_week=24,
        submission_id=submission.submission_id,
    )  # fmt: skip
    d = deps(store)
    for _ in range(2):  # a redelivery changes nothing more
        await reactions.on_placement_started(cloud(started), started, deps=d)
    status = {s: a.status for s, (a, _) in store.submissions.docs.items()}
    assert status[submission.submission_id] == "placed"
    assert status[elsewhere.submission_id] == "declined"
    assert status[ended.submission_id] == "no-offer", "ended ones stay as they ended"
    assert status[other_client.submission_id] == "submitted", "other clients are untouched"
    assert store.submissions.types().count("vacancies.submission.declined") == 1
    timers = d.timers.scheduled  # type: ignore[attr-defined]
    assert sorted(timers) == [f"{placement_id}|sustained|13", f"{placement_id}|sustained|26"]
    due = {t.timer_id.rsplit("|", 1)[1]: t.due for t in timers.values()}
    assert due["13"] == datetime(2027, 3, 2, 0, 0, tzinfo=UTC)  # 1 Dec + 13 weeks, GMT
    assert due["26"] == datetime(2027, 6, 1, 0, 0, tzinfo=UTC) - timedelta(hours=1)  # BST


# --- Timers, each fired twice (two replicas, or a restart) ------------------------------------


async def test_expiry_fires_once_and_only_after_the_closing_date() -> None:
    store = await world()
    timer = sustainment.expiry_timer(await vacancy(store))
    await sustainment.on_expiry(timer, store=store, clock=FixedClock(NOW))  # type: ignore[arg-type]
    assert (await vacancy(store)).status == "open", "early: nothing happens"
    late = FixedClock(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    for _ in range(2):
        await sustainment.on_expiry(timer, store=store, clock=late)  # type: ignore[arg-type]
    assert (await vacancy(store)).status == "expired"
    assert store.vacancies.types().count("vacancies.vacancy.expired") == 1


async def test_sustainment_fires_once_per_point_with_ids_from_the_timer() -> None:
    store = await world()
    placement_id = await commands.place(store, "VAC-1", "CL-1", TODAY, 24, NOW, wrap)
    timers = sustainment.sustainment_timers("VAC-1", (await vacancy(store)).placement(placement_id))
    at_13 = FixedClock(timers[0].due)
    await sustainment.on_sustainment(timers[1], store=store, clock=at_13)  # type: ignore[arg-type]
    for _ in range(2):
        await sustainment.on_sustainment(timers[0], store=store, clock=at_13)  # type: ignore[arg-type]
    sustained = [e for e in store.vacancies.events if e["type"].endswith("sustained")]
    assert [e["data"]["weeks"] for e in sustained] == [13], "26 not yet due; 13 once"
    assert (
        sustained[0]["id"]
        == enveloper(sustainment.SOURCE, cause_id=f"timer:{timers[0].timer_id}")(
            [ev.PlacementSustained.model_validate(sustained[0]["data"])]
        )[0].id
    )


async def test_an_ended_placement_is_never_sustained_by_its_timers() -> None:
    store = await world()
    placement_id = await commands.place(store, "VAC-1", "CL-1", TODAY, 24, NOW, wrap)
    await store.vacancies.mutate(
        {"_id": "VAC-1"}, lambda v: v.end_placement(placement_id, TODAY, "left"), wrap
    )
    timers = sustainment.sustainment_timers("VAC-1", (await vacancy(store)).placement(placement_id))
    late = FixedClock(datetime(2028, 1, 1, tzinfo=UTC))
    for timer in timers:
        await sustainment.on_sustainment(timer, store=store, clock=late)  # type: ignore[arg-type]
    assert "vacancies.placement.sustained" not in store.vacancies.types()


# --- Events of other services -------------------------------------------------------------------


async def test_a_reclaim_ends_the_clients_live_placement_as_the_revolving_door() -> None:
    store = await world(("VAC-1", "VAC-2"))
    live = await commands.place(store, "VAC-1", "CL-1", TODAY, 24, NOW, wrap)
    earlier = await commands.place(
        store, "VAC-2", "CL-1", TODAY - timedelta(days=80), 24, NOW, wrap
    )
    await store.vacancies.mutate(
        {"_id": "VAC-2"}, lambda v: v.end_placement(earlier, TODAY - timedelta(days=1), "x"), wrap
    )
    reclaimed = rev.ClientReclaimed(client_id="CL-1", reclaim_date=TODAY + timedelta(days=20),
                                    benefit="UC")  # fmt: skip
    for _ in range(2):
        await handlers.on_reclaimed(cloud(reclaimed), reclaimed, store=store)  # type: ignore[arg-type]
    (ended,) = [e["data"] for e in store.vacancies.events if e["data"].get("revolving_door")
                and e["type"].endswith("ended")]  # fmt: skip
    assert ended["placement_id"] == live and ended["reason"] == "returned-to-benefit"
    (marked,) = [e["data"] for e in store.vacancies.events if e["type"].endswith("revolving-door")]
    assert marked["placement_id"] == earlier


async def test_referral_events_keep_the_lead_provider_as_it_stands() -> None:
    store = FakeStore()
    fields = {"client_id": "CL-9", "provider_id": "P-03", "programme": "x", "lead": True}
    created = rev.ReferralCreated(referral_id="RF-9", **fields)
    await handlers.on_referral(cloud(created), created, store=store)  # type: ignore[arg-type]
    assert store.clients["CL-9"]["referrals"]["RF-9"]["active"]
    done = rev.ReferralCompleted(referral_id="RF-9", outcome="done", **fields)
    await handlers.on_referral(cloud(done), done, store=store)  # type: ignore[arg-type]
    assert not store.clients["CL-9"]["referrals"]["RF-9"]["active"]


async def test_a_clients_partnership_comes_from_registration_and_moves() -> None:
    store = FakeStore()
    registered = rev.ClientRegistered(
        client_id="CL-9", claimant_ref="CLM-1", benefit="UC", local_authority="Warrington",
        ward="Bewsey", postcode_district="WA5", age_band="25-49", partnership=CW,
    )  # fmt: skip
    again = registered.model_copy(update={"partnership": "bcbc"})
    await handlers.on_clients_registered(
        [(cloud(registered), registered), (cloud(again), again)],
        store=store,  # type: ignore[arg-type]
    )
    assert store.clients["CL-9"]["partnership"] == "bcbc", "the last of a run wins, as in order"
    await handlers.on_clients_registered([(cloud(registered), registered)], store=store)  # type: ignore[arg-type]
    assert store.clients["CL-9"]["partnership"] == CW
    moved = rev.ClientMoved(
        client_id="CL-9", from_partnership=CW, to_partnership="bcbc",
        local_authority="Dudley", ward="Castle", history_follows=False,
    )  # fmt: skip
    await handlers.on_client_moved(cloud(moved), moved, store=store)  # type: ignore[arg-type]
    assert store.clients["CL-9"]["partnership"] == "bcbc"


def test_every_referral_event_type_is_handled() -> None:
    referral_types = {
        m for m in vars(rev).values()
        if isinstance(m, type) and issubclass(m, rev._ReferralEvent) and m is not rev._ReferralEvent
    }  # fmt: skip
    handled = set(handlers.HANDLERS)
    assert referral_types - handled == {rev.ReferralSlaBreached}, "a breach changes no status"
