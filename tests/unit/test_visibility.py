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


def test_without_employers_consent_an_employer_reads_met_and_a_band_per_factor_only() -> None:
    from schemas.visibility import employer_view_of_match

    match = {
        "match_id": "MT-1",
        "vacancy_id": "V-1",
        "client_id": "CL-1",
        "score": 0.8,
        "rank": 1,
        "reasons": [
            {"factor": "skills", "weight": 0.35, "value": 1.0, "explanation": "has 1 of 1 (till)"},
            {"factor": "distance", "weight": 0.2, "value": 0.7, "explanation": "3.2 km away, ..."},
            {"factor": "hours", "weight": 0.1, "value": 0.8, "explanation": "24 of 30"},
            {"factor": "target_group", "weight": 0, "value": 1.0, "explanation": "in a group"},
        ],
    }
    view = employer_view_of_match(match, employers_consent=False, profile={"skills": ["till"]})
    assert view["reasons"] == [
        {"factor": "skills", "met": True, "band": "all"},
        {"factor": "distance", "met": True, "band": "under 5 km"},
        {"factor": "hours", "met": True, "band": "most"},
    ]
    assert "details" not in view and "till" not in str(view) and "3.2" not in str(view)


def test_employer_webhooks_of_matches_carry_no_group_gate_or_priority() -> None:
    """What notifications sends an employer brokerage for a match the engine proposed (a
    targeted, routeway-priority pair) and for a withdrawal by a gate."""
    from schemas import matching
    from schemas.envelope import CloudEvent
    from services.matching.domain import Match
    from services.matching.rules import ClientProfile, VacancySpec, evaluate
    from services.notifications.rules import reduce_for

    location = {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59}
    client = ClientProfile(
        client_id="CL-1",
        skills=["customer service"],
        qualification_level=2,
        preferred_sectors=["retail"],
        location=location,
        max_travel_km=10,
        available_hours_per_week=30,
        priority_groups=["disability", "lone_parent"],
        ward="Bewsey",
        completed_programmes=["retail-routeway"],
        partnership="cw",
    )
    vacancy = VacancySpec(
        vacancy_id="VAC-1",
        employer_id="E-1",
        brokerage_id="EB-01",
        title="Sales Assistant",
        sector="retail",
        hours_per_week=24,
        location=location,
        required_skills=["customer service"],
        desirable_skills=[],
        min_qualification_level=1,
        target_priority_groups=["disability"],
        target_wards=["Bewsey"],
        routeway="retail-routeway",
        partnership="cw",
    )
    evaluation = evaluate(client, vacancy)
    assert evaluation.priority and {"target_group", "target_ward"} <= {
        r.factor for r in evaluation.reasons
    }
    _, (proposed,) = Match.propose(client, vacancy, evaluation)
    withdrawn = matching.MatchWithdrawn(
        match_id="MT-1", vacancy_id="VAC-1", client_id="CL-1", brokerage_id="EB-01",
        reason="gate-failed",
    )  # fmt: skip
    for data in (proposed, withdrawn):
        event = CloudEvent.create(
            type=data.event_type, source="/t", subject="VAC-1", data=data.model_dump(mode="json")
        )
        text = str(reduce_for(event, "employer_brokerage"))
        for never in ("disability", "lone_parent", "Bewsey", "priority", "target", "gate-failed"):
            assert never not in text, never


def test_an_employer_never_learns_that_a_placement_ended_in_a_reclaim() -> None:
    from schemas.visibility import (
        EMPLOYER_HIDDEN_EVENT_TYPES,
        employer_end_reason,
        employer_view_of_placement,
    )

    ended = {"placement_id": "PL-1", "reason": "returned-to-benefit", "revolving_door": True}
    assert employer_view_of_placement(ended) == {"placement_id": "PL-1", "reason": "ended"}
    assert employer_end_reason("contract ended") == "contract ended"
    assert "vacancies.placement.revolving-door" in EMPLOYER_HIDDEN_EVENT_TYPES
