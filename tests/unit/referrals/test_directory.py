"""The provider directory: eligibility naming every failing rule, places, waitlists, repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.errors import Conflict, Invalid
from schemas import referrals as ev
from services.referrals.directory import (
    Capacity,
    Eligibility,
    NoCapacity,
    Programme,
    ProgrammeBody,
    Provider,
    ProviderView,
    load_directory,
)
from services.referrals.eligibility import Applicant, failures

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
APPLICANT = Applicant(
    benefit="ESA",
    age_band="16-24",
    priority_groups=("lone_parent",),
    qualification_level=3,
    local_authority="Warrington",
    partnership="cheshire-warrington",
)


def provider(
    maximum: int = 2, available: int | None = None, when_full: str = "waitlist"
) -> Provider:
    return Provider(
        provider_id="P-01",
        name="nextstep",
        partnerships=["cheshire-warrington"],
        programmes=[
            Programme(
                programme_id="care",
                name="Care routeway",
                kind="routeway",
                capacity=Capacity(
                    maximum=maximum,
                    available=maximum if available is None else available,
                    when_full=when_full,  # type: ignore[arg-type]
                ),
            )
        ],
    )


def test_an_eligible_client_fails_no_rule() -> None:
    p = provider()
    assert failures(APPLICANT, p, p.programmes[0], NOW) == []


def test_every_failing_rule_is_named_without_the_clients_own_values() -> None:
    p = provider()
    programme = p.programmes[0]
    programme.status = "temporarily-closed"
    programme.eligibility = Eligibility(
        benefits=["JSA", "UC"],
        age_bands=["50+"],
        priority_groups_any=["over_50"],
        max_qualification_level=2,
        local_authorities=["Halton"],
    )
    applicant = Applicant(
        **{**APPLICANT.__dict__, "completed": (("P-01", "care", NOW - timedelta(days=200)),)}
    )
    found = failures(applicant, p, programme, NOW)
    assert [f.rule for f in found] == [
        "programme_inactive", "benefit", "age_band", "priority_group", "qualification", "area",
        "repeat_support",
    ]  # fmt: skip
    text = " ".join(f.explanation for f in found)
    assert "ESA" not in text and "16-24" not in text and "lone_parent" not in text


def test_repeat_support_is_a_year_long_and_another_partnership_is_out_of_area() -> None:
    p = provider()
    long_ago = Applicant(
        **{**APPLICANT.__dict__, "completed": (("P-01", "care", NOW - timedelta(days=400)),)}
    )
    assert failures(long_ago, p, p.programmes[0], NOW) == []
    elsewhere = Applicant(**{**APPLICANT.__dict__, "partnership": "bcbc"})
    assert [f.rule for f in failures(elsewhere, p, p.programmes[0], NOW)] == ["area"]


def test_places_are_taken_then_waitlisted_then_released_oldest_first() -> None:
    p = provider(maximum=1)
    assert p.take_place("care", "RF-1", NOW)[0] == "created"
    assert p.take_place("care", "RF-1", NOW)[0] == "created", "asking again is idempotent"
    status, (event,) = p.take_place("care", "RF-2", NOW)
    assert status == "on-hold" and isinstance(event, ev.ProgrammeUpdated)
    assert event.capacity.available == 0 and event.capacity.waiting == 1
    p.take_place("care", "RF-3", NOW + timedelta(minutes=1))
    p.free_place("care", "RF-1", NOW)
    assert p.free_place("care", "RF-1", NOW) == [], "freeing twice frees once"
    released, _ = p.release_waiting("care", NOW)
    assert released == ["RF-2"] and p.programmes[0].capacity.available == 0
    p.set_available("care", 1, NOW)
    assert p.release_waiting("care", NOW)[0] == ["RF-3"]


def test_a_full_programme_that_refuses_answers_no_capacity() -> None:
    p = provider(maximum=1, when_full="refuse")
    p.take_place("care", "RF-1", NOW)
    with pytest.raises(NoCapacity) as raised:
        p.take_place("care", "RF-2", NOW)
    assert isinstance(raised.value, Conflict) and raised.value.error == "no-capacity"


def test_capacity_cannot_exceed_the_maximum() -> None:
    with pytest.raises(Invalid):
        provider(maximum=2).set_available("care", 3, NOW)


def test_replacing_a_programme_keeps_its_places_and_waitlist() -> None:
    p = provider(maximum=1)
    p.take_place("care", "RF-1", NOW)
    p.take_place("care", "RF-2", NOW)
    body = ProgrammeBody(name="Care", kind="routeway", capacity=Capacity(maximum=3, available=2))
    p.put_programme("care", body, NOW)
    assert p.release_waiting("care", NOW)[0] == ["RF-2"]
    assert [s.referral_id for s in p.programmes[0].holders] == ["RF-1", "RF-2"]


def test_the_reconciler_frees_places_of_ended_and_never_stored_referrals() -> None:
    p = provider(maximum=3)
    for n in (1, 2, 3):
        p.take_place("care", f"RF-{n}", NOW)
    p.take_place("care", "RF-4", NOW)  # waiting
    statuses = {"RF-1": "completed", "RF-2": None, "RF-3": "accepted", "RF-4": "on-hold"}
    # RF-2's place is young: it may be stored right now.
    assert p.reconcile("care", statuses, NOW + timedelta(seconds=30), timedelta(minutes=2))[0] == [
        "RF-4"
    ]
    released, _ = p.reconcile("care", statuses, NOW + timedelta(minutes=5), timedelta(minutes=2))
    holders = [s.referral_id for s in p.programmes[0].holders]
    assert holders == ["RF-3", "RF-4"] and p.programmes[0].capacity.available == 1
    assert released == []


def test_the_directory_view_hides_which_referrals_hold_places() -> None:
    p = provider(maximum=1)
    p.take_place("care", "RF-1", NOW)
    p.take_place("care", "RF-2", NOW)
    view = ProviderView.of(p).model_dump_json()
    assert "RF-" not in view and '"waiting":1' in view


def test_the_seed_directory_matches_the_contract() -> None:
    from pathlib import Path

    directory = {
        p.provider_id: p
        for p in load_directory(
            (Path(__file__).parents[3] / "deploy/local/providers.json").read_text()
        )
    }
    assert set(directory) >= {"P-01", "P-02", "P-03"}
    retail = directory["P-01"].programme("retail-routeway")
    assert retail is not None and retail.eligibility.benefits == [] and retail.capacity.available
    assert directory["P-03"].partnerships == ["bcbc"]
    assert all(
        p.sla.acknowledge_working_days == 2 for d in directory.values() for p in d.programmes
    )
