"""The operations service's pure rules: RAG and trajectory, fairness ratios, journeys, stages,
dead-letter redrive rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from runtime.partnerships import Partnerships
from services.operations import dead_letters as dl
from services.operations import fairness, journeys, kpis, targets
from services.operations.clients import ClientView, stage_of

START, DEADLINE = date(2026, 1, 1), date(2026, 1, 11)  # a ten-day period
HALFWAY = datetime(2026, 1, 6, tzinfo=UTC)


def test_trajectory_is_the_target_times_the_elapsed_share() -> None:
    assert targets.trajectory(100, START, DEADLINE, HALFWAY) == pytest.approx(50)
    assert targets.trajectory(100, START, DEADLINE, datetime(2025, 12, 1, tzinfo=UTC)) == 0
    assert targets.trajectory(100, START, DEADLINE, datetime(2026, 3, 1, tzinfo=UTC)) == 100


@pytest.mark.parametrize(
    ("position", "expected"),
    [(50, "green"), (60, "green"), (40, "amber"), (39.9, "red"), (0, "red")],
)
def test_status_before_the_deadline(position: float, expected: str) -> None:
    assert targets.status(position, 100, START, DEADLINE, HALFWAY) == expected


@pytest.mark.parametrize(("position", "expected"), [(100, "green"), (99, "red"), (0, "red")])
def test_status_at_or_after_the_deadline_is_green_only_on_target(
    position: float, expected: str
) -> None:
    at_deadline = datetime(2026, 1, 11, 9, tzinfo=UTC)
    assert targets.status(position, 100, START, DEADLINE, at_deadline) == expected


def test_a_target_needs_a_known_measure_and_a_period() -> None:
    with pytest.raises(ValueError, match=r"measure|deadline"):
        targets.TargetBody(
            action="a", task="t", measure="nope", target=1, start=START, deadline=DEADLINE
        )
    with pytest.raises(ValueError, match=r"measure|deadline"):
        targets.TargetBody(
            action="a",
            task="t",
            measure="placements_started",
            target=1,
            start=DEADLINE,
            deadline=START,
        )


def test_fairness_ratio_and_the_four_fifths_rule_with_a_minimum_group_size() -> None:
    table = fairness.rates(
        {"lone_parent": 40, "disability": 25, "carer": 10, "none": 50},
        {"lone_parent": 20, "disability": 5, "carer": 1, "none": 25},
    )
    rows = {r.group: r for r in table}
    assert rows["none"].rate == 0.5 and rows["none"].ratio == 1.0
    assert rows["disability"].rate == 0.2 and rows["disability"].ratio == 0.4
    # carer: ratio 0.2 but only 10 clients, under the minimum of 20: no disparity
    assert [r.group for r in fairness.disparities(table)] == ["disability"]


def test_fairness_with_nobody_selected_raises_nothing() -> None:
    table = fairness.rates({"none": 30, "carer": 30}, {})
    assert all(r.ratio == 1.0 for r in table) and not fairness.disparities(table)


def _client(**kw: object) -> ClientView:
    base = {"client_id": "CL-1", "ward": "Bewsey", "local_authority": "Warrington"}
    return ClientView.model_validate(
        {**base, **kw, "registered_at": datetime(2026, 1, 1, tzinfo=UTC)}
    )


def test_stages_in_order() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    assert stage_of(_client()) == "identified"
    assert stage_of(_client(referred_at=at)) == "referred"
    assert stage_of(_client(referred_at=at, in_support_at=at)) == "in-support"
    assert stage_of(_client(job_ready_at=at)) == "job-ready"
    assert stage_of(_client(job_ready_at=at, live_matches=["M-1"])) == "matched"
    assert stage_of(_client(live_placements=["PL-1"])) == "in-work"
    assert stage_of(_client(live_placements=["PL-1"], sustained_placements=["PL-1"])) == "sustained"
    assert stage_of(_client(live_placements=["PL-1"], on_benefit=False)) == "off-benefit"


def test_the_five_journey_questions_by_ward_group_and_period() -> None:
    jan, mar = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
    clients = [
        _client(
            client_id="A", engaged_at=jan, supported_at=jan, job_at=mar, priority_groups=["carer"]
        ),
        _client(client_id="B", engaged_at=mar, trained_at=mar, job_at=mar, sustained_at=mar),
        _client(client_id="C", ward="Elsewhere", engaged_at=jan),
    ]
    assert journeys.journeys(clients, ward="bewsey") == {
        "clients": 2,
        "engaged": 2,
        "supported": 1,
        "trained": 1,
        "job": 2,
        "sustained": 1,
    }
    assert journeys.journeys(clients, start=date(2026, 2, 1))["engaged"] == 1
    assert journeys.journeys(clients, priority_group="carer")["clients"] == 1
    assert journeys.journeys(clients, priority_group="none")["clients"] == 2


def test_caseload_definitions_match_any_listed_value() -> None:
    c = _client(benefit="UC", priority_groups=["carer"])
    assert journeys.in_caseload(c, local_authorities=["warrington"], benefits=["UC", "JSA"])
    assert not journeys.in_caseload(c, priority_groups_any=["refugee"])
    assert journeys.in_caseload(c, priority_groups_any=["refugee", "carer"])


def test_kpi_totals_by_month_and_conversion() -> None:
    days = [
        ("2026-01-03", {"all": {"all": 2}, "ward": {"A": 2}}),
        ("2026-02-03", {"all": {"all": 1}, "ward": {"B": 1}}),
    ]
    assert kpis.add_up(days, "month") == {"2026-01": 2, "2026-02": 1}
    assert kpis.add_up(days, "ward") == {"A": 2, "B": 1}
    assert kpis.conversion({"A": 1}, {"A": 4, "B": 2}) == {"A": 0.25, "B": 0.0}
    assert kpis.total(days, "ward", "A") == 2 and kpis.total(days, None, None) == 3


def _letter(**headers: str) -> dl.DeadLetter:
    return dl.DeadLetter(
        "referrals.events.v1.dlq",
        1,
        7,
        b"{}",
        b"CL-1",
        tuple((k, v.encode()) for k, v in headers.items()),
    )


def test_redrive_goes_to_the_original_topic_never_onto_a_dlq() -> None:
    known = {"referrals.events.v1"}
    ok = _letter(**{"x-dlq-source-topic": "referrals.events.v1", "x-dlq-reason": "rejected"})
    assert dl.destination(ok, known) == "referrals.events.v1"
    onto_dlq = _letter(**{"x-dlq-source-topic": "referrals.events.v1.dlq"})
    assert dl.destination(onto_dlq, known | {"referrals.events.v1.dlq"}) is None
    assert dl.destination(_letter(), known) is None
    headers = dict(dl.redriven_headers(ok))
    assert "x-dlq-reason" not in headers
    assert headers["x-redriven-from"] == b"referrals.events.v1.dlq/1/7"


def test_all_leaves_records_redriven_or_back_from_a_redrive_alone() -> None:
    fresh = _letter(**{"x-dlq-source-topic": "t"})
    back = _letter(**{"x-dlq-source-topic": "t", "x-redriven-from": "t.dlq/0/1"})
    done = dl.DeadLetter("t.dlq", 0, 2, b"", None, (), redriven=True)
    assert dl.chosen_for_all([fresh, back, done]) == [fresh]


def test_a_dead_letters_partnership_comes_from_its_bytes_or_is_unknown() -> None:
    ps = Partnerships.parse('{"cw": {"local_authorities": ["Warrington"]}}')
    assert dl.partnership_of(b'{"data": {"partnership": "cw"}}', ps) == "cw"
    assert dl.partnership_of(b'{"data": {"local_authority": "Warrington"}}', ps) == "cw"
    assert dl.partnership_of(b"\xff not json", ps) is None
    assert dl.partnership_of(b"[" * 100_000, ps) is None
