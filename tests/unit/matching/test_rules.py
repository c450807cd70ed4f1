"""Matching rules: gates, and scores that add up to their reasons."""

from __future__ import annotations

import pytest

from services.matching.domain import Match
from services.matching.rules import MIN_SCORE, WEIGHTS, ClientProfile, VacancySpec, evaluate

CLIENT = ClientProfile(
    client_id="CL-1",
    skills=["Customer Service", "cash handling"],
    qualification_level=2,
    preferred_sectors=["retail"],
    location={"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
    max_travel_km=15,
    available_hours_per_week=30,
    priority_groups=["lone_parent"],
    ward="Bewsey & Whitecross",
)
VACANCY = VacancySpec(
    vacancy_id="VAC-1",
    employer_id="E-01",
    brokerage_id="EB-01",
    title="Sales Assistant",
    sector="Retail",
    hours_per_week=24,
    location={"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    required_skills=["customer service"],
    desirable_skills=["cash handling", "stock control"],
    min_qualification_level=1,
)


def test_weights_sum_to_one_so_scores_stay_between_zero_and_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_a_good_pair_is_proposed_and_its_score_is_the_sum_of_its_reasons() -> None:
    result = evaluate(CLIENT, VACANCY)
    assert result.proposable and result.score >= MIN_SCORE
    assert result.score == pytest.approx(sum(r.weight * r.value for r in result.reasons), abs=1e-3)
    skills = next(r for r in result.reasons if r.factor == "skills")
    assert skills.value == 1.0 and "customer service" in skills.explanation


@pytest.mark.parametrize(
    ("change", "gate"),
    [
        ({"min_qualification_level": 3}, "qualification"),
        ({"hours_per_week": 37.5}, "hours"),
        ({"location": {"postcode_district": "M1", "lat": 53.48, "lon": -2.24}}, "distance"),
        ({"target_priority_groups": ["ex_offender"]}, "target_group"),
        ({"target_wards": ["Grosvenor"]}, "target_ward"),
        ({"open": False}, "availability"),
    ],
)
def test_each_hard_gate_stops_a_match(change: dict, gate: str) -> None:
    result = evaluate(CLIENT, VacancySpec.model_validate({**VACANCY.model_dump(), **change}))
    assert not result.proposable and result.failed_gate == gate


def test_targeted_vacancies_admit_their_groups_with_a_weightless_reason() -> None:
    targeted = VACANCY.model_copy(
        update={"target_priority_groups": ["lone_parent"], "target_wards": ["bewsey & whitecross"]}
    )
    result = evaluate(CLIENT, targeted)
    assert result.proposable
    assert {r.factor for r in result.reasons if r.weight == 0} == {"target_group", "target_ward"}
    assert result.score == evaluate(CLIENT, VACANCY).score


def test_missing_required_skills_lower_the_score_below_the_threshold() -> None:
    result = evaluate(
        CLIENT,
        VACANCY.model_copy(
            update={"required_skills": ["forklift licence", "cscs card"], "sector": "construction"}
        ),
    )
    assert result.eligible and not result.proposable


def test_a_match_is_withdrawn_once_and_re_proposed_when_eligible_again() -> None:
    match, _ = Match.propose(CLIENT, VACANCY, evaluate(CLIENT, VACANCY))
    assert match.reevaluate(evaluate(CLIENT, VACANCY)) == []
    (withdrawn,) = match.reevaluate(evaluate(CLIENT, VACANCY.model_copy(update={"open": False})))
    assert withdrawn.reason.startswith("no longer eligible")
    assert match.withdraw("again") == []
    (again,) = match.reevaluate(evaluate(CLIENT, VACANCY))
    assert again.event_type == "matching.match.proposed" and match.status == "proposed"
