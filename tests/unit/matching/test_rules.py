"""Matching rules: gates, and scores that add up to their reasons."""

from __future__ import annotations

import pytest

from runtime.principal import Principal
from services.matching.domain import Match, may_see_match
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
    partnership="cheshire-warrington",
    consent_scopes=["providers"],
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
    partnership="cheshire-warrington",
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
        ({"target_priority_groups": ["ex_offender"]}, "target"),
        ({"target_wards": ["Grosvenor"]}, "target"),
        ({"open": False}, "vacancy_open"),
        ({"partnership": "bcbc"}, "partnership"),
        ({"partnership": None}, "partnership"),
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
    assert withdrawn.reason == "vacancy-closed"
    assert match.withdraw("again") == []
    (again,) = match.reevaluate(evaluate(CLIENT, VACANCY))
    assert again.event_type == "matching.match.proposed" and match.status == "proposed"


def test_a_client_is_never_paired_with_another_partnerships_vacancy() -> None:
    moved = CLIENT.model_copy(update={"partnership": "bcbc"})
    assert evaluate(moved, VACANCY).failed_gate == "partnership"
    unknown = CLIENT.model_copy(update={"partnership": None})
    assert evaluate(unknown, VACANCY).failed_gate == "partnership"
    bcbc = VACANCY.model_copy(update={"partnership": "bcbc"})
    assert evaluate(moved, bcbc).proposable


def test_without_providers_consent_nothing_is_proposed_and_employers_consent_is_no_gate() -> None:
    employers_only = CLIENT.model_copy(update={"consent_scopes": ["employers"]})
    assert evaluate(employers_only, VACANCY).failed_gate == "consent"
    assert evaluate(CLIENT.model_copy(update={"consent_scopes": ["providers"]}), VACANCY).proposable


def test_withdrawals_carry_the_contracts_codes_never_the_gates_name() -> None:
    match, _ = Match.propose(CLIENT, VACANCY, evaluate(CLIENT, VACANCY))
    (withdrawn,) = match.reevaluate(
        evaluate(CLIENT.model_copy(update={"consent_scopes": []}), VACANCY)
    )
    assert withdrawn.reason == "consent-withdrawn"
    assert withdrawn.partnership == "cheshire-warrington"
    match.reevaluate(evaluate(CLIENT, VACANCY))
    (gate,) = match.reevaluate(
        evaluate(CLIENT, VACANCY.model_copy(update={"min_qualification_level": 5}))
    )
    assert gate.reason == "gate-failed"
    match.reevaluate(evaluate(CLIENT, VACANCY))
    (not_ready,) = match.reevaluate(
        evaluate(CLIENT.model_copy(update={"job_ready": False}), VACANCY)
    )
    assert not_ready.reason == "not-job-ready"


def test_a_match_belongs_to_its_vacancys_partnership_and_only_that_one_sees_it() -> None:
    match, (proposed,) = Match.propose(CLIENT, VACANCY, evaluate(CLIENT, VACANCY))
    assert match.partnership == proposed.partnership == "cheshire-warrington"
    ops = Principal(org_id="OPS", role="operations", partnership="cheshire-warrington")
    ops_bcbc = Principal(org_id="OPS-BCBC", role="operations", partnership="bcbc")
    national = Principal(org_id="OPS-NATIONAL", role="operations", partnership="*")
    eb02 = Principal(org_id="EB-02", role="employer_brokerage", partnership="bcbc")
    p01 = Principal(org_id="P-01", role="provider", partnership="cheshire-warrington")
    assert may_see_match(ops, match, set()) and may_see_match(national, match, set())
    assert not may_see_match(ops_bcbc, match, set())
    assert not may_see_match(eb02, match, set())
    assert may_see_match(p01, match, {"P-01"}) and not may_see_match(p01, match, set())
