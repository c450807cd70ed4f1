"""What an employer may see of a match."""

from __future__ import annotations

from schemas.visibility import employer_view_of_match, employer_withdrawal_reason

MATCH = {
    "match_id": "MT-1",
    "vacancy_id": "VAC-1",
    "client_id": "CL-1",
    "score": 0.8,
    "rules_version": "r1",
    "brokerage_id": "EB-01",
    "employer_id": "E-01",
    "reasons": [
        {"factor": "skills", "weight": 0.35, "value": 1.0, "explanation": "has 1 of 1"},
        {
            "factor": "target_group",
            "weight": 0.0,
            "value": 1.0,
            "explanation": "in a priority group this vacancy targets",
        },
        {"factor": "target_ward", "weight": 0.0, "value": 1.0, "explanation": "ward"},
    ],
}
PROFILE = {
    "skills": ["cash handling"],
    "qualification_level": 2,
    "available_hours_per_week": 30,
    "priority_groups": ["disability"],
    "benefit": "ESA",
    "ward": "Bewsey",
}


def test_employer_never_sees_priority_group_or_ward_reasons() -> None:
    view = employer_view_of_match(MATCH, employers_consent=True, profile=PROFILE)
    assert [r["factor"] for r in view["reasons"]] == ["skills"]


def test_details_need_the_clients_employers_consent() -> None:
    without = employer_view_of_match(MATCH, employers_consent=False, profile=PROFILE)
    assert "details" not in without
    with_consent = employer_view_of_match(MATCH, employers_consent=True, profile=PROFILE)
    assert with_consent["details"] == {
        "skills": ["cash handling"],
        "qualification_level": 2,
        "available_hours_per_week": 30,
    }


def test_special_category_and_benefit_data_never_pass_even_with_consent() -> None:
    text = str(employer_view_of_match(MATCH, employers_consent=True, profile=PROFILE))
    for secret in ("disability", "ESA", "Bewsey", "priority", "brokerage_id"):
        assert secret not in text


def test_an_employer_never_learns_which_gate_withdrew_a_match() -> None:
    assert employer_withdrawal_reason("gate-failed") == "no-longer-available"
    assert employer_withdrawal_reason("not-job-ready") == "no-longer-available"
    assert employer_withdrawal_reason("vacancy-filled") == "vacancy-filled"
