"""Referrals rules: consent, the referral lifecycle, job-readiness and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.principal import Principal
from schemas import jcp
from schemas import referrals as ev
from services.referrals.clients import Assessment, Client
from services.referrals.domain import (
    LIFECYCLE,
    Provider,
    Referral,
    check_may_act_for_client,
    check_may_assess,
    may_see_client,
    may_see_referral,
)

JCP = Principal("JCP-CW", "jcp", "cheshire-warrington")
P01 = Principal("P-01", "provider", "cheshire-warrington")
P02 = Principal("P-02", "provider", "cheshire-warrington")
OPS = Principal("OPS", "operations", "cheshire-warrington")
EB = Principal("EB-01", "employer_brokerage", "cheshire-warrington")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RETAIL = Provider(provider_id="P-01", name="nextstep", programmes=["retail-routeway"])

CLAIM = jcp.ClaimantRegistered(
    claimant_ref="CLM-1002",
    benefit="IS_LP",
    claim_start="2024-11-01",
    jcp_office="Warrington",
    local_authority="Warrington",
    ward="Bewsey & Whitecross",
    postcode_district="WA5",
    age_band="25-49",
    priority_groups=["lone_parent"],
)
ASSESSMENT = Assessment(
    skills=["customer service", "cash handling"],
    qualification_level=1,
    literacy="level_1",
    numeracy="entry_3",
    barriers=[{"type": "childcare", "blocking": False}],
    preferred_sectors=["retail"],
    location={"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
    max_travel_km=15,
    available_hours_per_week=30,
)


def consented_client() -> Client:
    client, _ = Client.register("CL-1", CLAIM, NOW)
    client.record_consent(["providers"])
    return client


def referral(client: Client | None = None, existing: list[Referral] | None = None) -> Referral:
    created, _ = Referral.create(
        referral_id="RF-1",
        client=client or consented_client(),
        provider=RETAIL,
        provider_id="P-01",
        programme="retail-routeway",
        reason="wants retail work",
        existing=existing or [],
        by=JCP,
    )
    return created


def test_registering_a_claimant_announces_the_client_without_special_category_data() -> None:
    client, events = Client.register("CL-1", CLAIM, NOW)
    assert client.priority_groups == ["lone_parent"]
    (registered,) = events
    assert isinstance(registered, ev.ClientRegistered)
    assert "priority_groups" not in registered.model_dump()


def test_consent_is_recorded_once_and_withdrawn_once() -> None:
    client, _ = Client.register("CL-1", CLAIM, NOW)
    (recorded,) = client.record_consent(["providers", "employers"])
    assert recorded.current_scopes == ["employers", "providers"]
    assert client.record_consent(["providers"]) == []
    (withdrawn,) = client.withdraw_consent(["employers", "tracking"])
    assert withdrawn.scopes == ["employers"] and withdrawn.current_scopes == ["providers"]


def test_a_referral_needs_providers_consent() -> None:
    client, _ = Client.register("CL-1", CLAIM, NOW)
    with pytest.raises(Conflict, match="consented"):
        referral(client)


def test_a_second_active_referral_to_the_same_programme_is_a_conflict() -> None:
    first = referral()
    with pytest.raises(Conflict, match="already has an active referral"):
        referral(existing=[first])
    first.apply("withdraw", JCP, "moved away")
    assert referral(existing=[first]).status == "created"


def test_unknown_provider_or_programme_is_invalid_and_names_the_field() -> None:
    with pytest.raises(Invalid) as unknown:
        Referral.create(
            referral_id="RF-1",
            client=consented_client(),
            provider=None,
            provider_id="P-99",
            programme="x",
            reason="r",
            existing=[],
            by=JCP,
        )
    assert unknown.value.field == "provider_id"
    with pytest.raises(Invalid) as programme:
        Referral.create(
            referral_id="RF-1",
            client=consented_client(),
            provider=RETAIL,
            provider_id="P-01",
            programme="welding",
            reason="r",
            existing=[],
            by=JCP,
        )
    assert programme.value.field == "programme"


def test_the_happy_lifecycle_emits_one_event_per_step() -> None:
    r = referral()
    steps = [("accept", None), ("start", None), ("complete", "job outcome")]
    types = [r.apply(action, P01, note)[0].event_type for action, note in steps]
    assert types == [
        "referrals.referral.accepted",
        "referrals.referral.started",
        "referrals.referral.completed",
    ]
    assert [h.status for h in r.history] == ["created", "accepted", "started", "completed"]


@pytest.mark.parametrize("action", sorted(LIFECYCLE))
def test_every_action_is_refused_from_every_status_it_may_not_leave(action: str) -> None:
    sources, _, roles = LIFECYCLE[action]
    actor = JCP if "jcp" in roles else P01
    for status in (
        "created",
        "accepted",
        "rejected",
        "started",
        "completed",
        "dropped-out",
        "withdrawn",
    ):
        r = referral()
        r.status = status
        if status in sources:
            assert r.apply(action, actor, "because")[0].status == LIFECYCLE[action][1]
        else:
            with pytest.raises(Conflict):
                r.apply(action, actor, "because")


def test_jcp_cannot_accept_and_a_provider_cannot_withdraw() -> None:
    with pytest.raises(Forbidden):
        referral().apply("accept", JCP)
    with pytest.raises(Forbidden):
        referral().apply("withdraw", P01, "no")


def test_ended_referrals_free_their_active_key() -> None:
    r = referral()
    assert r.active_key == "CL-1|P-01|retail-routeway"
    r.apply("reject", P01, "full")
    assert r.active_key == "ended|RF-1"


def test_job_ready_needs_an_assessment_without_blocking_barriers() -> None:
    client = consented_client()
    with pytest.raises(Conflict, match="no assessment"):
        client.mark_job_ready()
    blocked = Assessment.model_validate(
        {**ASSESSMENT.model_dump(), "barriers": [{"type": "housing", "blocking": True}]}
    )
    client.assess(blocked, "P-01", NOW)
    with pytest.raises(Conflict, match="blocking barrier"):
        client.mark_job_ready()
    client.assess(ASSESSMENT, "P-01", NOW)
    (ready,) = client.mark_job_ready()
    assert ready.skills == ["customer service", "cash handling"]
    assert ready.priority_groups == ["lone_parent"] and ready.ward == "Bewsey & Whitecross"


def test_assessment_event_carries_no_barrier_details() -> None:
    (assessed,) = consented_client().assess(ASSESSMENT, "P-01", NOW)
    assert assessed.blocking_barriers == 0
    assert "childcare" not in assessed.model_dump_json()


def test_providers_see_only_referrals_addressed_to_them() -> None:
    r = referral()
    assert may_see_referral(P01, r) and may_see_referral(JCP, r) and may_see_referral(OPS, r)
    assert not may_see_referral(P02, r) and not may_see_referral(EB, r)
    assert may_see_client(P01, [r]) and not may_see_client(P02, [r])
    assert not may_see_client(EB, [r])


def test_only_the_provider_of_an_active_referral_acts_for_the_client() -> None:
    r = referral()
    check_may_act_for_client(P01, [r])
    check_may_act_for_client(JCP, [r])
    with pytest.raises(NotFound):
        check_may_act_for_client(P02, [r])
    with pytest.raises(Forbidden):
        check_may_assess(JCP, [r])
    r.apply("reject", P01, "full")
    with pytest.raises(Forbidden):
        check_may_act_for_client(P01, [r])
