"""Vacancies rules: posting, scoping, closing, placements and sustainment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from runtime.errors import Conflict, Invalid
from runtime.principal import Principal
from services.vacancies.domain import (
    PersonSpecification,
    Vacancy,
    client_may_be_placed,
    may_manage_vacancy,
    may_see_vacancy,
    vacancy_query,
)

TODAY = date(2026, 11, 23)
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


def open_vacancy() -> Vacancy:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", TODAY, **FIELDS)
    vacancy.scope(SPEC)
    return vacancy


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
        lambda: vacancy.place("PL-1", "CL-1", TODAY, 24),
    ):
        with pytest.raises(Conflict):
            step()


def test_the_last_position_filled_fills_the_vacancy_in_the_same_change() -> None:
    vacancy = open_vacancy()
    (started,) = vacancy.place("PL-1", "CL-1", TODAY, 24)
    assert started.event_type == "vacancies.placement.started"
    with pytest.raises(Conflict, match="already has a placement"):
        vacancy.place("PL-2", "CL-1", TODAY, 24)
    events = vacancy.place("PL-2", "CL-2", TODAY, 16)
    assert [e.event_type for e in events] == [
        "vacancies.placement.started",
        "vacancies.vacancy.filled",
    ]
    assert vacancy.status == "filled"


def test_sustainment_is_recorded_at_13_and_26_weeks_once_each() -> None:
    vacancy = open_vacancy()
    vacancy.place("PL-1", "CL-1", TODAY, 24)
    assert vacancy.next_check == TODAY + timedelta(weeks=13)
    assert vacancy.check_sustainment(TODAY + timedelta(weeks=13, days=-1)) == []
    (thirteen,) = vacancy.check_sustainment(TODAY + timedelta(weeks=13))
    assert thirteen.weeks == 13
    assert vacancy.check_sustainment(TODAY + timedelta(weeks=14)) == []
    (twenty_six,) = vacancy.check_sustainment(TODAY + timedelta(weeks=30))
    assert twenty_six.weeks == 26 and vacancy.next_check is None


def test_an_ended_placement_is_not_sustained() -> None:
    vacancy = open_vacancy()
    vacancy.place("PL-1", "CL-1", TODAY, 24)
    (ended,) = vacancy.end_placement("PL-1", TODAY + timedelta(weeks=4), "left the job")
    assert ended.reason == "left the job"
    assert vacancy.check_sustainment(TODAY + timedelta(weeks=27)) == []
    assert vacancy.next_check is None


# --- Partnerships -------------------------------------------------------------------------------

EB01 = Principal(org_id="EB-01", role="employer_brokerage", partnership="cheshire-warrington")
EB02 = Principal(org_id="EB-02", role="employer_brokerage", partnership="bcbc")
OPS_BCBC = Principal(org_id="OPS-BCBC", role="operations", partnership="bcbc")
JCP_CW = Principal(org_id="JCP-CW", role="jcp", partnership="cheshire-warrington")
NATIONAL = Principal(org_id="OPS-NATIONAL", role="operations", partnership="*")


def cheshire_vacancy() -> Vacancy:
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", TODAY, partnership="cheshire-warrington", **FIELDS)
    return vacancy


def test_a_vacancy_and_every_event_of_it_carry_the_posting_brokerages_partnership() -> None:
    vacancy, (posted,) = Vacancy.post(
        "VAC-1", "EB-01", TODAY, partnership="cheshire-warrington", **FIELDS
    )
    events = [posted, *vacancy.scope(SPEC), *vacancy.place("PL-1", "CL-1", TODAY, 24)]
    events += vacancy.place("PL-2", "CL-2", TODAY, 24)  # fills it
    events += vacancy.end_placement("PL-1", TODAY, "left")
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
    vacancy, _ = Vacancy.post("VAC-1", "EB-01", TODAY, **FIELDS)
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
    assert client_may_be_placed(vacancy, None), "not heard of yet: no grounds to refuse"
