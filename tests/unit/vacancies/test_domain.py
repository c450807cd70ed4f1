"""Vacancies rules: posting, scoping, closing, expiry, placements, sustainment and the revolving
door."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from runtime.errors import Conflict, Invalid, NotFound
from runtime.principal import Principal
from services.vacancies.domain import (
    PersonSpecification,
    Vacancy,
    client_may_be_placed,
    has_employers_consent,
    lead_provider,
    may_manage_vacancy,
    may_see_vacancy,
    vacancy_query,
)

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FIELDS = {
    "employer_id": "E-01",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 2,
    "hours_per_week": 24,
    "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    "closing_date": date(2026, 12, 31),
}
SPEC = PersonSpecification(required_skills=["customer service"], min_qualification_level=1)


def open_vacancy(**changes: object) -> Vacancy:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, **{**FIELDS, **changes})
    vacancy.scope(SPEC)
    return vacancy


def place(vacancy: Vacancy, placement_id: str, client_id: str, start: date = TODAY, **kw: object):
    return vacancy.place(placement_id, client_id, start, 24, today=TODAY, **kw)


def test_a_closing_date_in_the_past_is_invalid_and_names_the_field() -> None:
    with pytest.raises(Invalid) as error:
        Vacancy.post("VAC-1", "EB-01", TODAY, **{**FIELDS, "closing_date": date(2026, 11, 22)})
    assert error.value.field == "closing_date"


def test_scoping_opens_the_vacancy_and_tells_matching_everything_it_needs() -> None:
    vacancy, (posted,) = Vacancy.post("VAC-1", "EB-01", TODAY, **FIELDS)
    assert posted.status == "posted" and posted.brokerage_id == "EB-01"
    (scoped,) = vacancy.scope(SPEC)
    assert vacancy.status == "open"
    assert scoped.required_skills == ["customer service"] and scoped.hours_per_week == 24


def test_closed_vacancies_cannot_be_scoped_closed_or_placed_into() -> None:
    vacancy = open_vacancy()
    vacancy.close("withdrawn by employer")
    for step in (
        lambda: vacancy.scope(SPEC),
        lambda: vacancy.close("again"),
        lambda: place(vacancy, "PL-1", "CL-1"),
    ):
        with pytest.raises(Conflict):
            step()


def test_each_placement_lowers_the_positions_left_partly_filled_then_filled() -> None:
    vacancy = open_vacancy()
    started, partly = place(vacancy, "PL-1", "CL-1", lead_provider_id="P-01", match_id="M-1")
    assert started.event_type == "vacancies.placement.started"
    assert started.lead_provider_id == "P-01" and started.match_id == "M-1"
    assert partly.event_type == "vacancies.vacancy.partly-filled" and partly.positions_left == 1
    assert vacancy.status == "partly-filled" and vacancy.positions_left == 1
    with pytest.raises(Conflict, match="already has a placement"):
        place(vacancy, "PL-2", "CL-1")
    events = place(vacancy, "PL-2", "CL-2")
    assert [e.event_type for e in events] == [
        "vacancies.placement.started",
        "vacancies.vacancy.filled",
    ]
    assert vacancy.status == "filled" and vacancy.positions_left == 0
    with pytest.raises(Conflict):
        place(vacancy, "PL-3", "CL-3")


def test_placing_the_same_placement_again_changes_nothing() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    assert place(vacancy, "PL-1", "CL-1") == [] and vacancy.positions_left == 1


def test_a_posted_vacancy_takes_no_placement_until_scoped() -> None:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, **FIELDS)
    with pytest.raises(Conflict):
        place(vacancy, "PL-1", "CL-1")


@pytest.mark.parametrize("days", [-91, 91, -10_000, 2_000_000])
def test_a_start_date_more_than_90_days_from_today_is_invalid(days: int) -> None:
    vacancy = open_vacancy()
    start = date.min if days < -5000 else date.max if days > 5000 else TODAY + timedelta(days)
    with pytest.raises(Invalid) as error:
        place(vacancy, "PL-1", "CL-1", start)
    assert error.value.field == "start_date" and vacancy.placements == []


@pytest.mark.parametrize("days", [-90, 0, 90])
def test_a_start_date_within_90_days_is_fine(days: int) -> None:
    assert place(open_vacancy(), "PL-1", "CL-1", TODAY + timedelta(days))


def test_scoping_publishes_the_extra_fields_and_the_default_shortlist_size() -> None:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, **FIELDS)
    spec = PersonSpecification(
        min_literacy="level_1",
        min_numeracy="entry_3",
        routeway="retail-routeway",
        guarantees={"interview": True, "job": True},
    )
    (scoped,) = vacancy.scope(spec)
    assert scoped.min_literacy == "level_1" and scoped.min_numeracy == "entry_3"
    assert scoped.routeway == "retail-routeway" and scoped.guarantees.job
    assert scoped.shortlist_size == 3 * FIELDS["positions"] and scoped.positions_left == 2
    vacancy.status = "posted"
    (again,) = vacancy.scope(spec.model_copy(update={"shortlist_size": 4}))
    assert again.shortlist_size == 4


def test_a_partly_filled_vacancy_can_be_closed_but_not_rescoped() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    with pytest.raises(Conflict):
        vacancy.scope(SPEC)
    (closed,) = vacancy.close("enough")
    assert closed.status == "closed"


# --- Expiry -------------------------------------------------------------------------------------

CLOSES = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)  # London is on GMT in December


@pytest.mark.parametrize("status", ["posted", "open", "partly-filled"])
def test_a_vacancy_still_taking_people_expires_after_its_closing_date_once(status: str) -> None:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, **FIELDS)
    if status != "posted":
        vacancy.scope(SPEC)
    if status == "partly-filled":
        place(vacancy, "PL-1", "CL-1")
    assert vacancy.closes_at == CLOSES
    assert vacancy.expire(CLOSES) == [], "not before the end of the closing date"
    (expired,) = vacancy.expire(CLOSES + timedelta(seconds=1))
    assert expired.status == "expired" and expired.closing_date == date(2026, 12, 31)
    assert vacancy.status == "expired"
    assert vacancy.expire(CLOSES + timedelta(days=3)) == [], "a second firing does nothing"
    for step in (lambda: vacancy.close("x"), lambda: place(vacancy, "PL-9", "CL-9")):
        with pytest.raises(Conflict):
            step()


@pytest.mark.parametrize("end", ["filled", "closed"])
def test_a_filled_or_closed_vacancy_never_expires(end: str) -> None:
    vacancy = open_vacancy(positions=1)
    if end == "filled":
        place(vacancy, "PL-1", "CL-1")
    else:
        vacancy.close("withdrawn")
    assert vacancy.expire(CLOSES + timedelta(days=1)) == [] and vacancy.status == end


# --- Sustainment --------------------------------------------------------------------------------


def test_sustainment_is_recorded_at_13_and_26_weeks_once_each() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    thirteen_day = TODAY + timedelta(weeks=13)
    assert vacancy.sustain("PL-1", 13, thirteen_day - timedelta(days=1)) == []
    (thirteen,) = vacancy.sustain("PL-1", 13, thirteen_day)
    assert thirteen.weeks == 13 and thirteen.placement_id == "PL-1"
    assert vacancy.sustain("PL-1", 13, thirteen_day + timedelta(days=5)) == [], "once"
    assert vacancy.sustain("PL-1", 26, TODAY + timedelta(weeks=25)) == []
    (twenty_six,) = vacancy.sustain("PL-1", 26, TODAY + timedelta(weeks=30))
    assert twenty_six.weeks == 26
    assert vacancy.sustain("PL-1", 26, TODAY + timedelta(weeks=31)) == []
    assert vacancy.sustain("PL-1", 7, TODAY + timedelta(weeks=31)) == [], "only 13 and 26"
    assert vacancy.sustain("PL-404", 13, TODAY + timedelta(weeks=31)) == []


def test_an_ended_placement_is_not_sustained() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    (ended,) = vacancy.end_placement("PL-1", TODAY + timedelta(weeks=4), "left the job")
    assert ended.reason == "left the job" and not ended.revolving_door
    assert vacancy.sustain("PL-1", 13, TODAY + timedelta(weeks=27)) == []
    assert vacancy.sustain("PL-1", 26, TODAY + timedelta(weeks=27)) == []
    with pytest.raises(Conflict):
        vacancy.end_placement("PL-1", TODAY + timedelta(weeks=5), "again")
    with pytest.raises(NotFound):
        vacancy.end_placement("PL-404", TODAY, "nobody")


def test_a_placement_ended_after_13_weeks_is_sustained_at_13_only() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    vacancy.end_placement("PL-1", TODAY + timedelta(weeks=20), "moved on")
    assert [e.weeks for e in vacancy.sustain("PL-1", 13, TODAY + timedelta(weeks=27))] == [13]
    assert vacancy.sustain("PL-1", 26, TODAY + timedelta(weeks=27)) == []


# --- The revolving door -------------------------------------------------------------------------


def test_a_reclaim_during_a_placement_ends_it_as_returned_to_benefit_once() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    place(vacancy, "PL-2", "CL-2")
    reclaim = TODAY + timedelta(weeks=6)
    (ended,) = vacancy.reclaimed("CL-1", reclaim)
    assert ended.event_type == "vacancies.placement.ended"
    assert ended.reason == "returned-to-benefit" and ended.revolving_door
    assert ended.end_date == reclaim and ended.placement_id == "PL-1"
    assert vacancy.reclaimed("CL-1", reclaim) == [], "the same reclaim again changes nothing"
    assert vacancy.reclaimed("CL-1", reclaim + timedelta(days=9)) == [], "marked already"
    assert vacancy.placement("PL-2").ended is None, "other clients' placements run on"
    assert vacancy.sustain("PL-1", 13, TODAY + timedelta(weeks=14)) == []


def test_a_reclaim_within_26_weeks_after_a_placement_ended_marks_it() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1")
    ended_on = TODAY + timedelta(weeks=2)
    vacancy.end_placement("PL-1", ended_on, "contract ended")
    (marked,) = vacancy.reclaimed("CL-1", ended_on + timedelta(weeks=26))
    assert marked.event_type == "vacancies.placement.revolving-door"
    assert marked.reclaim_date == ended_on + timedelta(weeks=26) and marked.revolving_door
    assert vacancy.placement("PL-1").revolving_door
    assert vacancy.reclaimed("CL-1", ended_on + timedelta(weeks=26)) == []


def test_a_reclaim_more_than_26_weeks_after_the_end_or_before_the_start_marks_nothing() -> None:
    vacancy = open_vacancy()
    place(vacancy, "PL-1", "CL-1", TODAY + timedelta(days=10))
    assert vacancy.reclaimed("CL-1", TODAY) == [], "a claim before the job started"
    ended_on = TODAY + timedelta(weeks=3)
    vacancy.end_placement("PL-1", ended_on, "contract ended")
    assert vacancy.reclaimed("CL-1", ended_on + timedelta(weeks=26, days=1)) == []
    assert vacancy.reclaimed("CL-2", ended_on) == [], "someone else's reclaim"


# --- Partnerships -------------------------------------------------------------------------------

EB01 = Principal(org_id="EB-01", role="employer_brokerage", partnership="cheshire-warrington")
EB02 = Principal(org_id="EB-02", role="employer_brokerage", partnership="bcbc")
OPS_BCBC = Principal(org_id="OPS-BCBC", role="operations", partnership="bcbc")
JCP_CW = Principal(org_id="JCP-CW", role="jcp", partnership="cheshire-warrington")
NATIONAL = Principal(org_id="OPS-NATIONAL", role="operations", partnership="*")


def cheshire_vacancy() -> Vacancy:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, partnership="cheshire-warrington", **FIELDS)
    return vacancy


def test_a_vacancy_and_every_event_of_it_carry_the_posting_brokerages_partnership() -> None:
    vacancy, (posted,) = Vacancy.post(
        "VAC-1", "EB-01", NOW, partnership="cheshire-warrington", **FIELDS
    )
    events = [posted, *vacancy.scope(SPEC), *place(vacancy, "PL-1", "CL-1")]
    events += place(vacancy, "PL-2", "CL-2")  # fills it
    events += vacancy.end_placement("PL-1", TODAY, "left")
    events += vacancy.reclaimed("CL-2", TODAY)
    events += vacancy.reclaimed("CL-1", TODAY)
    assert {e.partnership for e in events} == {"cheshire-warrington"}  # type: ignore[attr-defined]


def test_nobody_outside_the_vacancys_partnership_sees_or_manages_it() -> None:
    vacancy = cheshire_vacancy()
    assert may_see_vacancy(EB01, vacancy) and may_manage_vacancy(EB01, vacancy)
    assert may_see_vacancy(JCP_CW, vacancy) and may_see_vacancy(NATIONAL, vacancy)
    assert not may_see_vacancy(EB02, vacancy) and not may_manage_vacancy(EB02, vacancy)
    assert not may_see_vacancy(OPS_BCBC, vacancy)
    # The same brokerage id in another partnership's token is still outside.
    elsewhere = Principal(org_id="EB-01", role="employer_brokerage", partnership="bcbc")
    assert not may_see_vacancy(elsewhere, vacancy) and not may_manage_vacancy(elsewhere, vacancy)
    assert not may_manage_vacancy(NATIONAL, vacancy), "operations reads, never manages"


def test_a_vacancy_from_before_partnerships_is_seen_by_national_operations_only() -> None:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", NOW, **FIELDS)
    assert vacancy.partnership is None
    assert may_see_vacancy(NATIONAL, vacancy)
    assert not may_see_vacancy(EB01, vacancy) and not may_see_vacancy(JCP_CW, vacancy)


def test_lists_are_confined_to_the_callers_partnership_and_a_brokerage_to_its_own() -> None:
    assert vacancy_query(EB02, "open") == {
        "status": "open",
        "partnership": "bcbc",
        "brokerage_id": "EB-02",
    }
    assert vacancy_query(JCP_CW) == {"partnership": "cheshire-warrington"}
    assert vacancy_query(NATIONAL) == {}


def test_a_client_of_another_partnership_cannot_be_placed() -> None:
    vacancy = cheshire_vacancy()
    assert client_may_be_placed(vacancy, "cheshire-warrington")
    assert not client_may_be_placed(vacancy, "bcbc")
    assert not client_may_be_placed(vacancy, None), "a client of no partnership it knows"


def test_the_lead_provider_is_the_provider_of_the_active_lead_referral() -> None:
    assert lead_provider({}) is None
    candidate = {
        "referrals": {
            "RF-1": {"provider_id": "P-02", "lead": True, "active": False},
            "RF-2": {"provider_id": "P-03", "lead": False, "active": True},
        }
    }
    assert lead_provider(candidate) is None
    candidate["referrals"]["RF-3"] = {"provider_id": "P-01", "lead": True, "active": True}
    assert lead_provider(candidate) == "P-01"


def test_employers_consent_is_read_from_the_scopes_in_force() -> None:
    assert has_employers_consent({"consent_scopes": ["providers", "employers"]})
    assert not has_employers_consent({"consent_scopes": ["providers"]})
    assert not has_employers_consent({})
