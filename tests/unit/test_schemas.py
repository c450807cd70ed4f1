"""The published language: snapshots current, changes compatible, privacy rules in the models."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from schemas import jcp
from schemas.compat import incompatibilities
from schemas.export import expected_files, snapshot_path
from schemas.topics import EVENT_MODELS, TOPICS, topic_for

CLAIM = {
    "claimant_ref": "CLM-000123",
    "benefit": "IS_LP",
    "claim_start": "2024-11-01",
    "jcp_office": "Warrington",
    "local_authority": "Warrington",
    "ward": "Bewsey & Whitecross",
    "postcode_district": "wa5",
    "age_band": "25-49",
    "priority_groups": ["lone_parent"],
}


CONTRACT_EVENT_TYPES = [
    *(f"jcp.claimant.{t}" for t in ("registered", "benefit-changed", "off-flowed", "reclaimed")),
    *(
        f"referrals.client.{t}"
        for t in ("registered", "consent-recorded", "consent-withdrawn", "assessed", "job-ready")
    ),
    *(f"referrals.client.{t}" for t in ("off-flowed", "reclaimed", "benefit-changed")),
    "referrals.client.action-plan-agreed",
    *(
        f"referrals.referral.{t}"
        for t in (
            "created",
            "accepted",
            "rejected",
            "started",
            "completed",
            "dropped-out",
            "withdrawn",
            "on-hold",
            "released",
            "did-not-start",
            "expired",
            "sla-breached",
        )
    ),
    *(f"vacancies.vacancy.{t}" for t in ("posted", "scoped", "closed", "filled")),
    *(f"vacancies.placement.{t}" for t in ("started", "sustained", "ended")),
    "matching.match.proposed",
    "matching.match.withdrawn",
    "notifications.notification.delivered",
    "notifications.notification.failed",
]


def test_every_event_type_of_the_contract_has_one_model_and_one_topic() -> None:
    types = [t for topic in TOPICS for t in topic.event_types]
    assert len(types) == len(set(types)) == len(EVENT_MODELS)
    assert set(CONTRACT_EVENT_TYPES) <= set(types)
    assert topic_for("jcp.claimant.registered").name == "jcp.claimant-events.v1"
    assert topic_for("matching.match.proposed").key == "vacancy_id"


def test_committed_json_schemas_are_current() -> None:
    stale = [
        str(p) for p, text in expected_files().items() if not p.exists() or p.read_text() != text
    ]
    assert not stale, f"run `make schemas` and commit: {stale}"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_event_models_stay_compatible_with_their_published_version(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    published = json.loads(snapshot_path(model).read_text())
    problems = incompatibilities(published, model.model_json_schema())
    assert not problems, (
        f"{event_type} v{model.version} changed incompatibly: {problems}. Publish a new "
        "version (bump `version`, add a `.v2` topic) instead of editing this one in place."
    )


BASE = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "integer", "minimum": 0}},
    "required": ["a"],
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"properties": {"a": {"type": "string"}}}, "'b' was removed"),
        (
            {"properties": {"a": {"type": "string"}, "c": {"type": "integer", "minimum": 0}}},
            "'b' was removed",
        ),
        (
            {"properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 0}}},
            "'a' changed type",
        ),
        ({"required": ["a", "b"]}, "'b' is newly required"),
        ({"required": []}, "'a' is no longer required"),
    ],
)
def test_compatibility_check_catches_each_breaking_change(change: dict, expected: str) -> None:
    problems = incompatibilities(BASE, {**BASE, **change})
    assert any(expected in p for p in problems), problems


def test_adding_an_optional_field_or_a_description_is_compatible() -> None:
    current = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "description": "now documented"},
            "b": {"type": "integer", "minimum": 0},
            "c": {"type": "string"},
        },
        "required": ["a"],
    }
    assert incompatibilities(BASE, current) == []


def test_claimant_refs_that_look_like_national_insurance_numbers_are_refused() -> None:
    with pytest.raises(ValidationError, match="never a National Insurance number"):
        jcp.ClaimantRegistered.model_validate({**CLAIM, "claimant_ref": "QQ 12 34 56 C"})


def test_consumers_ignore_unknown_fields_and_normalise_postcode_districts() -> None:
    claim = jcp.ClaimantRegistered.model_validate({**CLAIM, "surprise": "ignored"})
    assert claim.postcode_district == "WA5"
    assert "surprise" not in claim.model_dump()


def test_no_event_model_has_a_field_for_names_contacts_birth_dates_or_nino() -> None:
    forbidden = ("name", "email", "phone", "address", "birth", "dob", "nino", "national_ins")
    for event_type, model in EVENT_MODELS.items():
        for field in model.model_fields:
            assert not any(f in field for f in forbidden if field != "programme"), (
                event_type,
                field,
            )
