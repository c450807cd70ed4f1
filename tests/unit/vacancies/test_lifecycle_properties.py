"""Properties of the submission lifecycle, over any sequence of calls (hypothesis).

No sequence reaches a state the lifecycle forbids; nothing leaves an ended submission; every
accepted change emits exactly one event naming the new status and adds one history entry; every
refused call changes nothing; the live key is the client and vacancy exactly while it is live.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import DomainError
from schemas.vacancies import LIVE_SUBMISSION_STATUSES
from services.vacancies.submissions import LIFECYCLE, Submission, work_trial_end

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALLOWED = {(s, step.target) for step in LIFECYCLE.values() for s in step.sources}

calls = st.lists(
    st.tuples(
        st.sampled_from([*sorted(LIFECYCLE), "nonsense"]),
        st.integers(min_value=0, max_value=400),  # days after the start
        st.booleans(),  # whether the call carries what it needs
    ),
    max_size=20,
)


@settings(max_examples=400, deadline=None)
@given(sequence=calls)
def test_no_sequence_of_calls_leaves_the_lifecycle(sequence: list) -> None:
    submission, _ = Submission.submit(
        submission_id="SUB-1", vacancy_id="VAC-1", client_id="CL-1", match_id="M-1",
        brokerage_id="EB-01", partnership="cheshire-warrington", at=START,
    )  # fmt: skip
    for action, days, complete in sequence:
        before = submission.model_dump()
        at = START + timedelta(days=days)
        day = date(2026, 12, 1) + timedelta(days=days)
        kw = {"interview_at": at, "start": day, "placement_id": "PL-1"} if complete else {}
        try:
            events = submission.apply(action, at, **kw)
        except DomainError:
            assert submission.model_dump() == before, "a refused call changes nothing"
            continue
        assert (before["status"], submission.status) in ALLOWED
        assert before["status"] in LIVE_SUBMISSION_STATUSES, "nothing leaves an ended one"
        (event,) = events
        assert event.status == submission.status
        assert len(submission.history) == len(before["history"]) + 1
        if action == "work-trial":
            assert event.end == work_trial_end(day) >= day
        assert (submission.live_key == "CL-1|VAC-1") == submission.is_live
