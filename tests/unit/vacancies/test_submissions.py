"""Submission rules: the lifecycle table, one event per change naming the status, the work
trial's end 15 working days from its start (inclusive, skipping bank holidays), the live key."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from runtime.errors import Conflict, Invalid
from runtime.principal import Principal
from services.vacancies.submissions import (
    Submission,
    may_manage_submission,
    may_see_submission,
    work_trial_end,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def submitted(**changes: object) -> Submission:
    submission, (event,) = Submission.submit(
        submission_id="SUB-1",
        vacancy_id="VAC-1",
        client_id="CL-1",
        match_id="M-1",
        brokerage_id="EB-01",
        partnership="cheshire-warrington",
        at=AT,
    )
    assert event.event_type == "vacancies.submission.submitted" and event.match_id == "M-1"
    return submission.model_copy(update=changes)


def test_interview_work_trial_offer_accept_each_emit_their_status_with_the_ids() -> None:
    s = submitted()
    interview_at = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    (interviewed,) = s.apply("interview", AT, interview_at=interview_at)
    assert interviewed.event_type == "vacancies.submission.interview-scheduled"
    assert interviewed.at == interview_at and s.status == "interview-scheduled"
    (trial,) = s.apply("work-trial", AT, start=date(2026, 12, 21))
    assert (trial.start, trial.end) == (date(2026, 12, 21), date(2027, 1, 13))
    (offer,) = s.apply("offer", AT)
    (placed,) = s.apply("accept", AT, placement_id="PL-1")
    assert placed.event_type == "vacancies.submission.placed" and placed.placement_id == "PL-1"
    for event in (interviewed, trial, offer, placed):
        assert (event.submission_id, event.vacancy_id, event.client_id, event.match_id) == (
            "SUB-1", "VAC-1", "CL-1", "M-1",
        )  # fmt: skip
        assert event.status == event.event_type.rsplit(".", 1)[1]
    assert [h.status for h in s.history] == [
        "submitted", "interview-scheduled", "work-trial", "offer", "placed",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Mon 21 Dec 2026: 21-24 Dec (4); Fri 25 and Mon 28 Dec bank holidays; 29-31 Dec (7);
        # Fri 1 Jan bank holiday; 4-8 Jan (12); 11, 12, 13 Jan (15).
        (date(2026, 12, 21), date(2027, 1, 13)),
        # An ordinary three weeks: Mon 2 Nov 2026 to Fri 20 Nov.
        (date(2026, 11, 2), date(2026, 11, 20)),
        # A Saturday start counts from the Monday: Mon 9 Nov to Fri 27 Nov.
        (date(2026, 11, 7), date(2026, 11, 27)),
    ],
)
def test_a_work_trial_ends_15_working_days_from_its_start_inclusive(start: date, end: date) -> None:
    assert work_trial_end(start) == end


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("submitted", "no-show"),
        ("submitted", "left-early"),
        ("submitted", "accept"),
        ("interview-scheduled", "accept"),
        ("work-trial", "interview"),
        ("offer", "interview"),
        ("offer", "work-trial"),
        ("offer", "no-offer"),
        ("placed", "declined"),
        ("declined", "offer"),
        ("no-offer", "offer"),
    ],
)
def test_illegal_moves_are_conflicts_and_change_nothing(status: str, action: str) -> None:
    s = submitted(status=status)
    before = s.model_dump()
    with pytest.raises(Conflict):
        s.apply(action, AT, interview_at=AT, start=date(2026, 12, 7), placement_id="PL-1")
    assert s.model_dump() == before


def test_a_call_without_what_it_needs_is_invalid() -> None:
    with pytest.raises(Invalid):
        submitted().apply("interview", AT)
    with pytest.raises(Invalid):
        submitted().apply("work-trial", AT)
    with pytest.raises(Invalid):
        submitted(status="offer").apply("accept", AT)


def test_the_live_key_is_the_client_and_vacancy_while_live_and_unique_once_ended() -> None:
    s = submitted()
    assert s.live_key == "CL-1|VAC-1"
    s.apply("declined", AT)
    assert s.live_key == "ended|SUB-1" and not s.is_live
    assert "live_key" in s.model_dump(), "stored, so the database's unique index sees it"


def test_a_submission_is_seen_by_its_brokerage_jcp_and_operations_of_its_partnership() -> None:
    s = submitted()
    eb01 = Principal("EB-01", "employer_brokerage", "cheshire-warrington")
    assert may_see_submission(eb01, s) and may_manage_submission(eb01, s)
    for other in (
        Principal("EB-02", "employer_brokerage", "cheshire-warrington"),
        Principal("EB-01", "employer_brokerage", "bcbc"),
        Principal("P-01", "provider", "cheshire-warrington"),
        Principal("OPS-BCBC", "operations", "bcbc"),
    ):
        assert not may_see_submission(other, s)
    jcp = Principal("JCP-CW", "jcp", "cheshire-warrington")
    assert may_see_submission(jcp, s) and not may_manage_submission(jcp, s)
    assert may_see_submission(Principal("OPS", "operations", "*"), s)


def test_a_no_offer_before_what_the_vacancy_guarantees_is_refused() -> None:
    from runtime.errors import Conflict
    from schemas.vacancies import Guarantees
    from services.vacancies.submissions import check_guarantees

    interview = Guarantees(interview=True)
    fresh = submitted()
    with pytest.raises(Conflict, match="interview"):
        check_guarantees("no-offer", fresh, interview, routeway_graduate=False)
    check_guarantees("declined", fresh, interview, routeway_graduate=False)  # the client may
    fresh.apply("interview", AT, interview_at=AT)
    check_guarantees("no-offer", fresh, interview, routeway_graduate=False)
    with pytest.raises(Conflict, match="work trial"):
        check_guarantees("no-offer", fresh, Guarantees(work_trial=True), routeway_graduate=False)
    job = Guarantees(job=True)
    check_guarantees("no-offer", fresh, job, routeway_graduate=False)
    with pytest.raises(Conflict, match="routeway"):
        check_guarantees("no-offer", fresh, job, routeway_graduate=True)
