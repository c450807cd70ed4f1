"""The referral lifecycle, its working-day deadlines, the lead provider and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.errors import Conflict, Forbidden, Invalid
from runtime.principal import Principal
from schemas import referrals as ev
from services.referrals.directory import SlaSettings
from services.referrals.domain import (
    ACTIVE,
    LIFECYCLE,
    SYSTEM,
    Referral,
    decide_lead,
    lead_provider,
    may_see_referral,
    parse_reason,
)

JCP = Principal("JCP-CW", "jcp", "cheshire-warrington")
JCP_BCBC = Principal("JCP-BCBC", "jcp", "bcbc")
P01 = Principal("P-01", "provider", "cheshire-warrington")
P02 = Principal("P-02", "provider", "cheshire-warrington")
OPS = Principal("OPS", "operations", "cheshire-warrington")
NATIONAL = Principal("OPS-NATIONAL", "operations", "*")
EB = Principal("EB-01", "employer_brokerage", "cheshire-warrington")
# Wednesday 23 December 2026: Christmas Day is Friday 25, Boxing Day's substitute Monday 28.
BEFORE_CHRISTMAS = datetime(2026, 12, 23, 10, 0, tzinfo=UTC)
ACTORS = {"jcp": JCP, "provider": P01, "system": SYSTEM}


def made(
    status: str = "created", at: datetime = BEFORE_CHRISTMAS, lead: bool = True, **kw: object
) -> tuple[Referral, list]:
    return Referral.create(
        referral_id=kw.get("referral_id", "RF-1"),  # type: ignore[arg-type]
        client_id="CL-1",
        provider_id="P-01",
        programme_id="retail-routeway",
        programme_kind="routeway",
        sla_settings=SlaSettings(),
        partnership="cheshire-warrington",
        reason="wants retail work",
        lead=lead,
        status=status,  # type: ignore[arg-type]
        by=JCP,
        at=at,
    )


def test_deadlines_count_working_days_and_skip_the_christmas_bank_holidays() -> None:
    referral, (created,) = made()
    assert isinstance(created, ev.ReferralCreated)
    assert created.referred_by == "JCP-CW" and created.lead and created.programme_kind == "routeway"
    due = {s.name: s.due for s in referral.sla}
    # Thu 24 is day 1; Fri 25 and Mon 28 are bank holidays; Tue 29 is day 2. 23:59:59 London
    # in December is 23:59:59 UTC.
    assert due["acknowledge"] == datetime(2026, 12, 29, 23, 59, 59, tzinfo=UTC)
    # 5 working days: 24, 29, 30, 31 December and (New Year's Day skipped) Monday 4 January.
    assert referral.expires_at == datetime(2027, 1, 4, 23, 59, 59, tzinfo=UTC)
    assert due["start"] > due["acknowledge"] and due["action_plan"] > due["start"]


def test_the_happy_lifecycle_emits_one_event_per_step_and_meets_its_deadlines() -> None:
    referral, _ = made()
    steps = [("accept", ev.ReferralAccepted), ("start", ev.ReferralStarted)]
    for n, (action, event_type) in enumerate(steps, start=1):
        (event,) = referral.apply(action, P01, BEFORE_CHRISTMAS + timedelta(hours=n))  # type: ignore[arg-type]
        assert isinstance(event, event_type) and event.status == referral.status
    (done,) = referral.apply("complete", P01, BEFORE_CHRISTMAS + timedelta(days=30), outcome="x")
    assert isinstance(done, ev.ReferralCompleted) and done.outcome == "x"
    met = {s.name: s.met_at for s in referral.sla}
    assert met["acknowledge"] == BEFORE_CHRISTMAS + timedelta(hours=1)
    assert met["start"] == BEFORE_CHRISTMAS + timedelta(hours=2)
    assert [h.status for h in referral.history] == ["created", "accepted", "started", "completed"]
    assert [h.by_role for h in referral.history] == ["jcp", "provider", "provider", "provider"]


@pytest.mark.parametrize("action", sorted(LIFECYCLE))
def test_every_action_is_refused_from_every_status_it_may_not_leave(action: str) -> None:
    step = LIFECYCLE[action]  # type: ignore[index]
    actor = ACTORS[sorted(step.roles)[0]]
    for status in ("created", "on-hold", "accepted", "started", "completed", "rejected",
                   "withdrawn", "expired", "did-not-start", "dropped-out"):  # fmt: skip
        referral, _ = made()
        referral.status = status  # type: ignore[assignment]
        before = referral.model_dump()
        if status in step.sources:
            (event,) = referral.apply(action, actor, BEFORE_CHRISTMAS, reason="other")  # type: ignore[arg-type]
            assert referral.status == step.target == event.status
        else:
            with pytest.raises(Conflict):
                referral.apply(action, actor, BEFORE_CHRISTMAS, reason="other")  # type: ignore[arg-type]
            assert referral.model_dump() == before, "a refused step changes nothing"


def test_who_may_take_each_step() -> None:
    referral, _ = made()
    with pytest.raises(Forbidden):
        referral.apply("accept", JCP, BEFORE_CHRISTMAS)
    with pytest.raises(Forbidden):
        referral.apply("withdraw", P01, BEFORE_CHRISTMAS, reason="other")
    with pytest.raises(Forbidden):
        referral.apply("expire", JCP, BEFORE_CHRISTMAS)
    with pytest.raises(Invalid):
        referral.apply("reject", P01, BEFORE_CHRISTMAS)  # a reason is needed


def test_a_referral_made_on_hold_says_so_and_starts_its_deadlines_only_when_released() -> None:
    referral, events = made("on-hold")
    assert [type(e) for e in events] == [ev.ReferralCreated, ev.ReferralOnHold]
    assert referral.status == "on-hold" and referral.sla == [] and referral.deadlines() == []
    later = BEFORE_CHRISTMAS + timedelta(days=14)
    (released,) = referral.apply("release", SYSTEM, later)
    assert isinstance(released, ev.ReferralReleased) and released.status == "created"
    assert all(s.due > later for s in referral.sla)


def test_a_deadline_missed_is_breached_once_and_an_unacknowledged_referral_expires() -> None:
    referral, _ = made()
    ack_due = referral.sla[0].due
    assert referral.check_deadlines(ack_due - timedelta(seconds=1)) == []
    (breach,) = referral.check_deadlines(ack_due + timedelta(seconds=1))
    assert isinstance(breach, ev.ReferralSlaBreached) and breach.sla == "acknowledge"
    assert breach.due == ack_due
    assert referral.check_deadlines(ack_due + timedelta(hours=1)) == [], "once only"
    events = referral.check_deadlines(referral.expires_at + timedelta(seconds=1))  # type: ignore[operator]
    assert [type(e) for e in events] == [ev.ReferralExpired]
    assert referral.status == "expired" and not referral.is_active
    assert referral.history[-1].by_role == "system"


def test_a_rejected_referral_owes_no_more_deadlines() -> None:
    referral, _ = made()
    referral.apply("reject", P01, BEFORE_CHRISTMAS, reason="no-capacity")
    assert referral.check_deadlines(BEFORE_CHRISTMAS + timedelta(days=60)) == []


def test_an_action_plan_agreed_while_active_meets_that_deadline() -> None:
    referral, _ = made()
    referral.apply("accept", P01, BEFORE_CHRISTMAS)
    plan_due = next(s.due for s in referral.sla if s.name == "action_plan")
    events = referral.check_deadlines(
        plan_due + timedelta(days=1), BEFORE_CHRISTMAS + timedelta(days=3)
    )
    assert [e.sla for e in events] == ["start"], "the plan was on time, the start was not"


def test_reasons_are_codes_and_anything_else_is_kept_as_a_note() -> None:
    assert parse_reason("found-work", None) == ("found-work", None)
    assert parse_reason("moved to Leeds", None) == ("other", "moved to Leeds")
    assert parse_reason("x" * 200, "y" * 500)[1] is not None
    assert len(parse_reason("x" * 200, "y" * 500)[1] or "") == 500


def test_events_carry_the_reason_code_never_the_note() -> None:
    referral, _ = made()
    (rejected,) = referral.apply(
        "reject", P01, BEFORE_CHRISTMAS, reason="out-of-area", note="lives in Leeds now"
    )
    assert rejected.reason == "out-of-area"
    assert "Leeds" not in rejected.model_dump_json()
    assert referral.history[-1].note == "lives in Leeds now"


def test_the_first_referral_leads_unless_asked_not_to_and_a_second_lead_conflicts() -> None:
    assert decide_lead(None, []) is True
    assert decide_lead(False, []) is False
    lead, _ = made()
    assert lead_provider([lead]) == "P-01"
    assert decide_lead(None, [lead]) is False, "a specialist alongside the lead"
    with pytest.raises(Conflict):
        decide_lead(True, [lead])
    lead.apply("withdraw", JCP, BEFORE_CHRISTMAS, reason="entered-in-error")
    assert lead_provider([lead]) is None and decide_lead(True, [lead]) is True


def test_the_database_keys_refuse_a_second_active_duplicate_or_lead() -> None:
    one, _ = made()
    two, _ = made(referral_id="RF-2")
    assert one.active_key == two.active_key and one.lead_key == two.lead_key
    one.apply("withdraw", JCP, BEFORE_CHRISTMAS, reason="duplicate")
    assert one.active_key != two.active_key and one.lead_key != two.lead_key
    specialist, _ = made(referral_id="RF-3", lead=False)
    assert specialist.lead_key != two.lead_key


def test_who_sees_a_referral() -> None:
    referral, _ = made()
    assert may_see_referral(P01, referral) and not may_see_referral(P02, referral)
    assert may_see_referral(JCP, referral) and may_see_referral(OPS, referral)
    assert may_see_referral(NATIONAL, referral)
    assert not may_see_referral(JCP_BCBC, referral), "another partnership: 404"
    assert not may_see_referral(EB, referral)
    # A provider serving several partnerships sees what is addressed to it from any of them.
    assert may_see_referral(Principal("P-01", "provider", "bcbc"), referral)


def test_active_is_the_one_definition_from_the_schemas() -> None:
    assert ACTIVE == ev.ACTIVE_REFERRAL_STATUSES == {"created", "on-hold", "accepted", "started"}


def test_a_client_who_moved_with_tracking_consent_brings_their_referrals_along() -> None:
    from services.referrals.clients import Client
    from tests.unit.referrals.test_clients import CLAIM

    referral, _ = made()  # made in cheshire-warrington
    client, _ = Client.register("CL-1", CLAIM, BEFORE_CHRISTMAS, "bcbc")  # lives in bcbc now
    assert not may_see_referral(JCP_BCBC, referral, client), "without tracking: only what follows"
    client.consent_scopes = ["tracking"]
    assert may_see_referral(JCP_BCBC, referral, client)
    assert may_see_referral(JCP, referral, client), "the referring partnership keeps its record"
