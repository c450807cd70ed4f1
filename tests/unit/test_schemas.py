"""The published language: snapshots current, changes compatible, privacy rules in the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, ValidationError, create_model

from schemas import jcp
from schemas.base import EventData
from schemas.compat import incompatibilities
from schemas.export import expected_files, published, snapshot_path, write_snapshots
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
    # The version as published (from git history) and as on disk: regenerating the file cannot
    # make a breaking change pass.
    versions = published(snapshot_path(model))
    assert versions, f"{event_type} v{model.version} has no snapshot: run `make schemas`"
    problems = [p for old in versions for p in incompatibilities(old, model.model_json_schema())]
    assert not problems, (
        f"{event_type} v{model.version} changed incompatibly: {problems}. Publish a new "
        "version (bump `version`, add a `.v2` topic) instead of editing this one in place."
    )


class _Published(EventData):
    event_type = "test.thing.happened"
    thing_id: str = Field(max_length=64)
    count: int = Field(ge=0)
    note: str | None = None


def _changed(**fields: Any) -> type[EventData]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "_Changed", __base__=EventData, **fields
    )


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({"count": (int, Field(ge=0))}, "'thing_id' was removed"),
        (
            {"id": (str, Field(max_length=64)), "count": (int, Field(ge=0))},
            "'thing_id' was removed or renamed",
        ),
        ({"thing_id": (str, Field(max_length=64)), "count": (str, ...)}, "'count' changed"),
        (
            {"thing_id": (str, Field(max_length=64)), "count": (int, Field(ge=0)),
             "extra": (str, ...)},
            "'extra' is newly required",
        ),
        (
            {"thing_id": (str, Field(max_length=64)), "count": (int, Field(ge=0)),
             "note": (str, ...)},
            "'note' is newly required",
        ),
    ],
)  # fmt: skip
def test_the_gate_refuses_to_overwrite_a_published_snapshot_with_a_breaking_change(
    tmp_path: Path, changed: dict[str, Any], expected: str
) -> None:
    files = expected_files([_Published], tmp_path)
    written, refused = write_snapshots(files)
    assert snapshot_path(_Published, tmp_path) in written and not refused
    before = snapshot_path(_Published, tmp_path).read_text()

    model = _changed(**changed)
    model.event_type = _Published.event_type
    written, refused = write_snapshots(expected_files([model], tmp_path))
    problems = refused[snapshot_path(_Published, tmp_path)]
    assert any(expected in p for p in problems), problems
    assert snapshot_path(_Published, tmp_path).read_text() == before, "nothing overwritten"


def test_a_new_optional_field_rewrites_the_snapshot_and_a_new_version_gets_its_own(
    tmp_path: Path,
) -> None:
    write_snapshots(expected_files([_Published], tmp_path))

    class _More(_Published):
        extra: str | None = None

    written, refused = write_snapshots(expected_files([_More], tmp_path))
    assert not refused and snapshot_path(_Published, tmp_path) in written

    class _V2(EventData):
        event_type = _Published.event_type
        version = 2
        thing_id: int

    written, refused = write_snapshots(expected_files([_V2], tmp_path))
    assert not refused and written == [snapshot_path(_V2, tmp_path)]
    assert (tmp_path / "test.thing.happened.v1.json").exists()


def test_nested_fields_follow_the_same_rules() -> None:
    published_ = {
        "type": "object",
        "properties": {"loc": {"$ref": "#/$defs/Loc"}},
        "required": ["loc"],
        "$defs": {"Loc": {"type": "object", "properties": {"lat": {"type": "number"}},
                          "required": ["lat"]}},
    }  # fmt: skip
    grown = json.loads(json.dumps(published_))
    grown["$defs"]["Loc"]["properties"]["lon"] = {"type": "number"}
    assert incompatibilities(published_, grown) == []
    grown["$defs"]["Loc"]["required"].append("lon")
    assert incompatibilities(published_, grown) == ["field 'loc.lon' is newly required"]
    del grown["$defs"]["Loc"]["properties"]["lat"]
    assert "field 'loc.lat' was removed or renamed" in incompatibilities(published_, grown)


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


@pytest.mark.parametrize("service", ["referrals", "vacancies", "matching", "notifications"])
def test_asyncapi_documents_describe_the_data_of_every_event(service: str) -> None:
    import importlib

    from fastapi.testclient import TestClient

    app = importlib.import_module(f"services.{service}.app").create_app()
    doc = TestClient(app).get("/asyncapi.json").json()  # no lifespan: nothing connects
    schemas = doc["components"]["schemas"]
    envelopes = {
        s["properties"]["type"]["const"]: s
        for s in schemas.values()
        if "const" in s.get("properties", {}).get("type", {})
    }
    described = set()
    for event_type, envelope in envelopes.items():
        data = envelope["properties"]["data"]
        target = schemas[data["$ref"].rsplit("/", 1)[-1]] if "$ref" in data else data
        assert target.get("properties"), f"{event_type}: data is described field by field"
        described.add(event_type)
    by_name = {t.name: t for t in TOPICS}
    published = [m.split(":")[0] for m in doc["components"]["messages"] if m.endswith(":Message")]
    assert published, "the service declares what it publishes"
    for topic in published:
        assert set(by_name[topic].event_types) <= described, topic
    consumed = [m for m in doc["components"]["messages"] if m.endswith(":SubscribeMessage")]
    assert len(described) > sum(len(by_name[t].event_types) for t in published) or not consumed
