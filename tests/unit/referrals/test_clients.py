"""Client rules: partnership and moves, JCP history, the consent ledger, action plans, journey
and who may see a client. Pure: no store, no clock (every `at`/`now` is given)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from runtime.errors import Forbidden, Invalid, NotFound
from runtime.principal import Principal
from schemas import jcp
from schemas import referrals as ev
from services.referrals.clients import (
    HISTORY_KEPT,
    Assessment,
    Client,
    PlanItem,
    check_may_agree_action_plan,
    check_may_read_action_plan,
    check_may_read_consent,
    consent_expiry_due,
    lead_provider,
    may_see_client,
    visible_history,
)
from services.referrals.journey import journey_of

CW, BCBC = "cheshire-warrington", "bcbc"
JCP_CW = Principal("JCP-CW", "jcp", CW)
JCP_BCBC = Principal("JCP-BCBC", "jcp", BCBC)
OPS_CW = Principal("OPS", "operations", CW)
OPS_NATIONAL = Principal("OPS-NATIONAL", "operations", "*")
P01 = Principal("P-01", "provider", CW)
P02 = Principal("P-02", "provider", CW)
EB = Principal("EB-01", "employer_brokerage", CW)
AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

CLAIM = jcp.ClaimantRegistered(
    claimant_ref="CLM-1002",
    benefit="JSA",
    claim_start="2026-11-02",
    jcp_office="Warrington",
    local_authority="Warrington",
    ward="Bewsey & Whitecross",
    postcode_district="WA5",
    age_band="25-49",
    priority_groups=["lone_parent"],
)
ASSESSMENT = Assessment(
    skills=["customer service"],
    qualification_level=1,
    literacy="level_1",
    numeracy="entry_3",
    location={"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
    max_travel_km=15,
    available_hours_per_week=30,
)


@dataclass
class Step:
    status: str


@dataclass
class FakeReferral:
    """What the client rules read of a referral."""

    provider_id: str
    status: str = "created"
    lead: bool = False
    programme_kind: str | None = "routeway"
    history: list[Step] = field(default_factory=list)


def client(partnership: str = CW, scopes: tuple[str, ...] = ()) -> Client:
    registered, _ = Client.register("CL-1", CLAIM, AT, partnership)
    if scopes:
        registered.record_consent(list(scopes), AT, by_org="JCP-CW")
    return registered


def item(item_id: str = "I-1", **overrides: object) -> PlanItem:
    return PlanItem(
        **{
            "item_id": item_id,
            "action": "Book the CSCS course with the client",
            "kind": "training",
            "due": "2026-12-15",
            "status": "open",
            **overrides,
        }
    )


# --- Partnership and moves ---------------------------------------------------------------------


def test_a_client_belongs_to_the_partnership_of_its_local_authority_from_registration() -> None:
    registered, (event,) = Client.register("CL-1", CLAIM, AT, CW)
    assert registered.partnership == CW and registered.partnership_since == AT
    assert isinstance(event, ev.ClientRegistered) and event.partnership == CW


def test_jcp_registering_the_same_claimant_again_changes_nothing() -> None:
    c = client()
    before = c.model_dump()
    again = CLAIM.model_copy(update={"local_authority": " warrington "})
    assert c.register_again(again, CW, AT + timedelta(days=1)) == []
    assert c.model_dump() == before


def test_another_local_authority_is_a_move_to_its_partnership() -> None:
    c = client()
    later = AT + timedelta(days=30)
    moved_to = CLAIM.model_copy(
        update={"local_authority": "Birmingham", "ward": "Aston", "postcode_district": "B6"}
    )
    (moved,) = c.register_again(moved_to, BCBC, later)
    assert isinstance(moved, ev.ClientMoved)
    assert (moved.from_partnership, moved.to_partnership) == (CW, BCBC)
    assert moved.history_follows is False, "no tracking consent"
    assert (c.partnership, c.partnership_since, c.local_authority, c.ward) == (
        BCBC,
        later,
        "Birmingham",
        "Aston",
    )
    assert c.history[-1].type == "moved" and c.history[-1].partnership == BCBC
    assert c.history_visible_from == later


def test_with_tracking_consent_the_history_follows_the_move() -> None:
    c = client(scopes=("tracking",))
    c.off_flow(
        jcp.ClaimantOffFlowed(claimant_ref="x", off_flow_date="2026-11-20", reason="job"), AT
    )
    moved_to = CLAIM.model_copy(update={"local_authority": "Birmingham"})
    (moved,) = c.register_again(moved_to, BCBC, AT + timedelta(days=1))
    assert moved.history_follows is True and c.history_visible_from is None
    assert [h.type for h in visible_history(JCP_BCBC, c)] == ["off-flowed", "moved"]


def test_without_tracking_the_new_partnership_sees_only_what_follows_the_move() -> None:
    c = client()
    c.off_flow(
        jcp.ClaimantOffFlowed(claimant_ref="x", off_flow_date="2026-11-20", reason="job"), AT
    )
    c.register_again(
        CLAIM.model_copy(update={"local_authority": "Birmingham"}), BCBC, AT + timedelta(days=1)
    )
    assert [h.type for h in visible_history(JCP_BCBC, c)] == ["moved"]
    assert [h.type for h in visible_history(OPS_NATIONAL, c)] == ["off-flowed", "moved"]


def test_a_benefit_change_naming_another_area_moves_the_client_first() -> None:
    c = client()
    change = jcp.ClaimantBenefitChanged(
        claimant_ref="x",
        from_benefit="JSA",
        to_benefit="UC",
        effective_date="2026-12-01",
        local_authority="Coventry",
    )
    moved, changed = c.change_benefit(change, AT, BCBC)
    assert isinstance(moved, ev.ClientMoved) and isinstance(changed, ev.ClientBenefitChanged)
    assert changed.partnership == BCBC and changed.effective_date == date(2026, 12, 1)
    assert c.benefit == "UC" and c.ward == CLAIM.ward, "no ward sent: the old one stays"


# --- JCP history ---------------------------------------------------------------------------------


def test_off_flow_and_reclaim_are_history_and_client_events() -> None:
    c = client()
    (off,) = c.off_flow(
        jcp.ClaimantOffFlowed(claimant_ref="x", off_flow_date="2026-11-20", reason="job"), AT
    )
    assert isinstance(off, ev.ClientOffFlowed) and off.partnership == CW and not c.on_benefit
    later = AT + timedelta(days=40)
    (back,) = c.reclaim(
        jcp.ClaimantReclaimed(claimant_ref="x", reclaim_date="2027-01-02", benefit="UC"), later
    )
    assert isinstance(back, ev.ClientReclaimed) and back.benefit == "UC"
    assert c.on_benefit and c.reclaims == 1 and c.benefit == "UC"
    assert [h.model_dump(mode="json") for h in c.history] == [
        {
            "type": "off-flowed",
            "at": "2026-11-24T09:30:00Z",
            "partnership": CW,
            "off_flow_date": "2026-11-20",
            "reason": "job",
        },
        {
            "type": "reclaimed",
            "at": "2027-01-03T09:30:00Z",
            "partnership": CW,
            "reclaim_date": "2027-01-02",
            "benefit": "UC",
        },
    ]


def test_the_history_keeps_the_latest_entries_only() -> None:
    c = client()
    for n in range(HISTORY_KEPT + 5):
        c.reclaim(
            jcp.ClaimantReclaimed(claimant_ref="x", reclaim_date="2027-01-02", benefit="UC"),
            AT + timedelta(minutes=n),
        )
    assert len(c.history) == HISTORY_KEPT and c.reclaims == HISTORY_KEPT + 5
    assert c.history[-1].at == AT + timedelta(minutes=HISTORY_KEPT + 4)


# --- Consent ledger --------------------------------------------------------------------------


def test_consent_is_kept_as_a_ledger_with_form_version_and_expiry() -> None:
    c = client()
    (recorded,) = c.record_consent(
        ["providers", "tracking"],
        AT,
        by_org="JCP-CW",
        form_version="CF-3",
        expires=date(2027, 6, 30),
    )
    assert recorded.scopes == ["providers", "tracking"] and recorded.form_version == "CF-3"
    assert c.consent_scopes == ["providers", "tracking"]
    assert (
        c.record_consent(
            ["providers"], AT, by_org="P-01", form_version="CF-3", expires=date(2027, 6, 30)
        )
        == []
    ), "a repeat of what is in force"
    (renewed,) = c.record_consent(["providers"], AT + timedelta(days=1), by_org="JCP-CW")
    assert renewed.scopes == ["providers"] and renewed.expires is None
    (withdrawn,) = c.withdraw_consent(
        ["tracking", "employers"], AT + timedelta(days=2), by_org="P-01"
    )
    assert withdrawn.scopes == ["tracking"] and not withdrawn.expired
    assert [(h.action, h.scopes, h.by_org, h.form_version) for h in c.consent_history] == [
        ("recorded", ["providers", "tracking"], "JCP-CW", "CF-3"),
        ("recorded", ["providers"], "JCP-CW", None),
        ("withdrawn", ["tracking"], "P-01", None),
    ]
    (grant,) = c.consents
    assert (grant.scope, grant.expires, grant.since) == ("providers", None, AT + timedelta(days=1))


def test_an_expiry_date_in_the_past_is_refused_naming_the_field() -> None:
    c = client()
    with pytest.raises(Invalid) as refused:
        c.record_consent(["providers"], AT, by_org="JCP-CW", expires=date(2026, 11, 23))
    assert refused.value.field == "expires"
    assert c.record_consent(["providers"], AT, by_org="JCP-CW", expires=date(2026, 11, 24))


def test_consent_lapses_at_the_end_of_its_expiry_day_in_london() -> None:
    c = client()
    c.record_consent(["employers"], AT, by_org="JCP-CW", expires=date(2027, 7, 1))
    c.record_consent(["providers"], AT, by_org="JCP-CW", expires=date(2027, 1, 10))
    due = consent_expiry_due(c)
    assert due == datetime(2027, 1, 10, 23, 59, 59, tzinfo=UTC), "GMT in January"
    assert c.expire_consent(due - timedelta(seconds=1)) == []
    (lapsed,) = c.expire_consent(due)
    assert lapsed.scopes == ["providers"] and lapsed.expired is True
    assert lapsed.current_scopes == ["employers"]
    assert c.expire_consent(due) == [], "nothing left to lapse"
    assert consent_expiry_due(c) == datetime(2027, 7, 1, 22, 59, 59, tzinfo=UTC), "BST in July"
    assert c.consent_history[-1].action == "expired" and c.consent_history[-1].by_org is None


def test_a_client_stored_before_the_ledger_keeps_its_consent() -> None:
    stored = client().model_dump(mode="json", exclude={"consents", "consent_history"})
    stored["consent_scopes"] = ["providers"]
    loaded = Client.model_validate(stored)
    assert loaded.consent_scopes == ["providers"] and loaded.consents[0].since == AT
    assert consent_expiry_due(loaded) is None


# --- Visibility ----------------------------------------------------------------------------


def test_jcp_and_operations_see_the_clients_of_their_partnership_only() -> None:
    c = client()
    assert may_see_client(JCP_CW, c, []) and may_see_client(OPS_CW, c, [])
    assert not may_see_client(JCP_BCBC, c, [])
    assert may_see_client(OPS_NATIONAL, c, [])
    assert not may_see_client(EB, c, [])


def test_after_a_move_the_old_partnership_no_longer_sees_the_client() -> None:
    c = client()
    c.register_again(CLAIM.model_copy(update={"local_authority": "Birmingham"}), BCBC, AT)
    assert may_see_client(JCP_BCBC, c, []) and not may_see_client(JCP_CW, c, [])


def test_a_provider_sees_a_referred_client_only_while_providers_consent_holds() -> None:
    c = client(scopes=("providers",))
    referrals = [FakeReferral("P-01", status="completed")]
    assert may_see_client(P01, c, referrals)
    assert not may_see_client(P02, c, referrals), "not referred to P-02"
    c.withdraw_consent(["providers"], AT, by_org="JCP-CW")
    assert not may_see_client(P01, c, referrals)


def test_the_lead_provider_is_the_provider_of_the_active_lead_referral() -> None:
    assert lead_provider([FakeReferral("P-01", "completed", lead=True)]) is None
    assert (
        lead_provider([FakeReferral("P-01"), FakeReferral("P-02", "started", lead=True)]) == "P-02"
    )


def test_the_consent_ledger_is_for_jcp_operations_and_the_lead_provider() -> None:
    c = client(scopes=("providers",))
    referrals = [FakeReferral("P-01", lead=True), FakeReferral("P-02")]
    check_may_read_consent(JCP_CW, c, referrals)
    check_may_read_consent(P01, c, referrals)
    with pytest.raises(Forbidden):
        check_may_read_consent(P02, c, referrals)
    with pytest.raises(NotFound):
        check_may_read_consent(JCP_BCBC, c, referrals)


# --- Action plans --------------------------------------------------------------------------


def test_only_the_lead_provider_agrees_the_action_plan() -> None:
    c = client(scopes=("providers",))
    referrals = [FakeReferral("P-01", "accepted", lead=True), FakeReferral("P-02", "accepted")]
    check_may_agree_action_plan(P01, c, referrals)
    for other in (P02, JCP_CW):
        with pytest.raises(Forbidden):
            check_may_agree_action_plan(other, c, referrals)
    with pytest.raises(NotFound):
        check_may_agree_action_plan(Principal("P-03", "provider", BCBC), c, referrals)
    check_may_read_action_plan(P02, c, referrals)
    with pytest.raises(Forbidden):
        check_may_read_action_plan(P02, c, [FakeReferral("P-02", "completed")])


def test_an_agreed_plan_is_announced_without_its_free_text() -> None:
    c = client()
    (agreed,) = c.agree_action_plan([item(), item("I-2", kind="job-search")], "P-01", AT)
    assert isinstance(agreed, ev.ActionPlanAgreed) and agreed.partnership == CW
    assert "action" not in agreed.model_dump_json() and "CSCS" not in agreed.model_dump_json()
    assert [i.item_id for i in agreed.items] == ["I-1", "I-2"]
    assert c.agree_action_plan([item(), item("I-2", kind="job-search")], "P-01", AT) == []
    later = AT + timedelta(days=3)
    assert c.agree_action_plan([item(status="done")], "P-01", later)
    assert c.action_plan is not None
    assert (c.action_plan.agreed_at, c.action_plan.first_agreed_at) == (later, AT)


def test_an_action_plan_with_repeated_item_ids_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        client().agree_action_plan([item(), item()], "P-01", AT)
    assert refused.value.field == "items"


def test_a_referral_id_is_noted_once() -> None:
    c = client()
    assert c.note_referral("RF-1") == [] and c.note_referral("RF-1") == []
    assert c.referral_ids == ["RF-1"]


def test_job_ready_names_the_partnership() -> None:
    c = client()
    c.assess(ASSESSMENT, "P-01", AT)
    (ready,) = c.mark_job_ready()
    assert isinstance(ready, ev.ClientJobReady) and ready.partnership == CW


# --- Journey -------------------------------------------------------------------------------


def test_the_journey_adds_up_referrals_and_placements() -> None:
    c = client()
    assert not any(journey_of(c, []).model_dump().values())
    referrals = [
        FakeReferral("P-01", "started", programme_kind="iag", history=[Step("created")]),
        FakeReferral(
            "P-02",
            "completed",
            programme_kind="employment",
            history=[Step("created"), Step("accepted"), Step("started"), Step("completed")],
        ),
    ]
    journey = journey_of(c, referrals)
    assert journey.engaged and journey.supported, "a started referral was accepted first"
    assert not journey.trained, "completed, but not a skills or routeway programme"
    referrals.append(FakeReferral("P-01", "completed", programme_kind="routeway"))
    c.note_placement_started("PL-1", "V-1", date(2027, 1, 4), AT)
    assert journey_of(c, referrals).trained and journey_of(c, referrals).job
    assert not journey_of(c, referrals).sustained
    c.note_placement_sustained("PL-1", 13, AT)
    assert journey_of(c, referrals).sustained
