"""Properties of the referral lifecycle, over any sequence of calls (hypothesis).

No sequence reaches a state the lifecycle forbids; every accepted change emits exactly one event
naming the new status and adds one history entry; every refused call changes nothing; each
deadline is breached at most once, whenever and however often the timers fire.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import DomainError
from runtime.principal import Principal
from schemas import referrals as ev
from services.referrals.domain import LIFECYCLE, SYSTEM
from tests.unit.referrals.test_domain import made

START = datetime(2026, 12, 23, 10, 0, tzinfo=UTC)
ACTORS = [
    Principal("JCP-CW", "jcp", "cheshire-warrington"),
    Principal("P-01", "provider", "cheshire-warrington"),
    Principal("OPS", "operations", "cheshire-warrington"),
    SYSTEM,
]
TERMINAL = {"rejected", "did-not-start", "completed", "dropped-out", "withdrawn", "expired"}
# Which status may follow which, written out from the contract by hand (not read from the
# table under test): the oracle the properties below check every move against.
ACTIVE_STATUSES = ("created", "on-hold", "accepted", "started")
ALLOWED = {
    ("created", "accepted"),
    ("created", "rejected"),
    ("created", "expired"),
    ("on-hold", "created"),
    ("accepted", "started"),
    ("accepted", "did-not-start"),
    ("accepted", "dropped-out"),
    ("started", "dropped-out"),
    ("started", "completed"),
    *((status, "withdrawn") for status in ACTIVE_STATUSES),
}


def test_the_lifecycle_table_is_the_contracts_graph() -> None:
    table = {(s, step.target) for step in LIFECYCLE.values() for s in step.sources}
    assert table == ALLOWED


BY_ROLE = {"jcp": 0, "provider": 1, "operations": 2, "system": 3}
FORWARD = ["release", "accept", "start", "complete"]


@st.composite
def call(draw: st.DrawFn) -> tuple[str, int, str | None, int]:
    """An action, mostly by someone allowed to take it (so sequences get deep into the
    lifecycle), sometimes by anyone (so refusals are exercised too)."""
    # The steps forward weigh more than the ones that end a referral, or few sequences would
    # get past the first step before something ends it.
    action = draw(st.sampled_from([*sorted(LIFECYCLE), *FORWARD, *FORWARD, *FORWARD]))
    allowed = sorted(BY_ROLE[r] for r in LIFECYCLE[action].roles)
    actor = draw(st.sampled_from(allowed) | st.sampled_from(range(len(ACTORS))))
    reason = draw(st.sampled_from([None, "other", "found-work", "found-work"]))
    return action, actor, reason, draw(st.integers(min_value=0, max_value=40 * 24))


calls = st.lists(call(), max_size=25)


@settings(max_examples=300, deadline=None)
@given(initial=st.sampled_from(["created", "on-hold"]), sequence=calls)
def test_no_sequence_of_calls_leaves_the_lifecycle(initial: str, sequence: list) -> None:
    referral, _ = made(initial)
    for action, actor, reason, hours in sequence:
        before = referral.model_dump()
        at = START + timedelta(hours=hours)
        try:
            events = referral.apply(action, ACTORS[actor], at, reason=reason)
        except DomainError:
            assert referral.model_dump() == before, "a refused call changes nothing"
            continue
        assert (before["status"], referral.status) in ALLOWED
        assert before["status"] not in TERMINAL, "nothing leaves an ended referral"
        assert len(events) == 1 and events[0].status == referral.status
        assert len(referral.history) == len(before["history"]) + 1
        assert referral.history[-1].status == referral.status


@settings(max_examples=200, deadline=None)
@given(
    sequence=calls,
    checks=st.lists(st.integers(min_value=0, max_value=60 * 24), max_size=15),
)
def test_each_deadline_is_breached_at_most_once(sequence: list, checks: list[int]) -> None:
    referral, _ = made()
    breaches: list[str] = []
    moments = sorted(
        [(h, "check", None) for h in checks] + [(h, "call", c) for h, c in enumerate(sequence)]
    )
    for hours, kind, call in moments:
        at = START + timedelta(hours=hours)
        if kind == "check":
            for event in referral.check_deadlines(at):
                if isinstance(event, ev.ReferralSlaBreached):
                    assert event.due <= at
                    breaches.append(event.sla)
            continue
        action, actor, reason, _ = call
        with contextlib.suppress(DomainError):
            referral.apply(action, ACTORS[actor], at, reason=reason)
    assert len(breaches) == len(set(breaches))
    assert all(s.breached == (s.name in breaches) for s in referral.sla)
