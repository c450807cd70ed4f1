"""Every event is bounded: the largest one its constraints allow stays far below Kafka's limit.

One event Kafka refuses (1 MB by default) halts its service's outbox relay, so every string,
list and number that can reach an event is bounded, and oversize input is refused where it
enters: 422 naming the field over HTTP, a failed validation (so the dead-letter topic) for a
consumed JCP event.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import to_json

from runtime.events import to_cloudevent
from runtime.http import create_http_app
from runtime.principal import Principal
from schemas import jcp
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from schemas.types import MAX_SKILLS
from services.matching.domain import Match
from services.matching.rules import ClientProfile, VacancySpec, evaluate
from services.vacancies.domain import PersonSpecification, Vacancy

MAX_EVENT_BYTES = 256_000
"""A quarter of Kafka's default `max.message.bytes` (1 MB), leaving room for headers and for
bounds to grow."""

# Characters that serialise widest in JSON: a control character takes six bytes (`\u0001`),
# so a string of n of them is the largest n characters can be. Plain text for comparison.
WORST_CHAR = "\x01"
PLAIN_CHAR = "x"

# A string bounded by its pattern rather than a maxLength: the longest value the pattern admits.
LONGEST_MATCH = {"^[A-Za-z]{1,2}[0-9][0-9A-Za-z]?$": "WA10"}

# The envelope's own unbounded attributes (`source`, `correlationid`) are set by our producers:
# sources are short constants, correlation ids are event ids (at most 128) or request ids,
# which `runtime.http` bounds to 128. They are sized here at that bound.
ENVELOPE_TEXT = 128


class Unbounded(AssertionError):
    """A field whose size nothing limits."""


def largest(schema: dict[str, Any], defs: dict[str, Any], path: str, char: str) -> Any:
    """The JSON value of `schema` that serialises largest, built from its bounds alone."""
    if "$ref" in schema:
        return largest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path, char)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [largest(s, defs, path, char) for s in schema[key]]
            return max(options, key=lambda v: len(to_json(v)))
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return max(schema["enum"], key=lambda v: len(to_json(v)))
    kind = schema.get("type")
    if kind == "string":
        return _largest_string(schema, path, char)
    if kind in ("integer", "number"):
        return _largest_number(schema, path, kind)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "array":
        if "maxItems" not in schema:
            raise Unbounded(f"{path}: a list without max_length")
        item = largest(schema.get("items", {}), defs, f"{path}[]", char)
        return [item] * schema["maxItems"]
    if kind == "object":
        if schema.get("additionalProperties") not in (None, False):
            raise Unbounded(f"{path}: a dict with free keys; give it a model")
        return {
            name: largest(prop, defs, f"{path}.{name}", char)
            for name, prop in schema.get("properties", {}).items()
        }
    raise Unbounded(f"{path}: no type to bound ({schema})")


def _largest_string(schema: dict[str, Any], path: str, char: str) -> str:
    if schema.get("format") == "date":
        return "2026-12-31"
    if schema.get("format") == "date-time":
        return "2026-12-31T23:59:59.999999Z"
    if "pattern" in schema:
        if schema["pattern"] not in LONGEST_MATCH:
            raise Unbounded(f"{path}: pattern {schema['pattern']!r} with no known longest match")
        return LONGEST_MATCH[schema["pattern"]]
    if "maxLength" not in schema:
        raise Unbounded(f"{path}: a string without max_length")
    return char * schema["maxLength"]


def _largest_number(schema: dict[str, Any], path: str, kind: str) -> float | int:
    if "maximum" in schema:
        top, inclusive = schema["maximum"], True
    elif "exclusiveMaximum" in schema:
        top, inclusive = schema["exclusiveMaximum"], False
    else:
        raise Unbounded(f"{path}: a number without an upper bound")
    if kind == "integer":
        return math.floor(top) if inclusive else math.ceil(top) - 1
    # Just below the bound has the longest repr, e.g. 47.99999999999999 for le=48.
    return math.nextafter(float(top), -math.inf)


def largest_data(model: type[BaseModel], char: str = PLAIN_CHAR) -> Any:
    schema = model.model_json_schema()
    return largest(schema, schema.get("$defs", {}), model.__name__, char)


def largest_event(model: type[BaseModel], char: str) -> CloudEvent:
    validated = model.model_validate(largest_data(model, char))  # the bounds admit it
    return CloudEvent.create(
        id=char * 128,  # the envelope's own bounds
        subject=char * 128,
        type=model.event_type,  # type: ignore[attr-defined]
        source="/" + char * (ENVELOPE_TEXT - 1),
        correlationid=char * ENVELOPE_TEXT,
        time=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        data=validated.model_dump(mode="json"),
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_the_largest_event_its_bounds_allow_is_far_below_kafkas_limit(event_type: str) -> None:
    size = len(largest_event(EVENT_MODELS[event_type], WORST_CHAR).to_bytes())
    assert size < MAX_EVENT_BYTES, f"{event_type}: up to {size} bytes"


def test_the_largest_events_as_plain_text_and_at_worst() -> None:
    """The figures behind the bounds (printed with `pytest -s`), heaviest first."""
    sizes = {
        t: (
            len(largest_event(m, PLAIN_CHAR).to_bytes()),
            len(largest_event(m, WORST_CHAR).to_bytes()),
        )
        for t, m in EVENT_MODELS.items()
    }
    for event_type, (plain, worst) in sorted(sizes.items(), key=lambda kv: -kv[1][1]):
        print(f"{event_type:45} {plain:>8} {worst:>8}")
    assert max(worst for _, worst in sizes.values()) < MAX_EVENT_BYTES


def test_the_builder_refuses_what_nothing_bounds() -> None:
    class Loose(BaseModel):
        bounded: PersonSpecification
        notes: list[str]

    with pytest.raises(Unbounded, match=r"notes: a list without max_length"):
        largest_data(Loose)

    class Free(BaseModel):
        extra: dict[str, int]

    with pytest.raises(Unbounded, match="extra: a dict"):
        largest_data(Free)

    class Text(BaseModel):
        note: str

    with pytest.raises(Unbounded, match="note: a string without max_length"):
        largest_data(Text)

    class Count(BaseModel):
        n: int = Field(ge=0)

    with pytest.raises(Unbounded, match="n: a number without an upper bound"):
        largest_data(Count)


# --- What the doors admit, the events carry --------------------------------------------------
# A door wider than its event would turn oversize input into a 500 (or, in a handler, a
# poison record) instead of a 422: the largest input each door admits must make valid events.


def test_the_largest_vacancy_and_scope_the_api_admits_make_valid_events() -> None:
    from services.vacancies.api import NewVacancy

    posted = NewVacancy.model_validate(largest_data(NewVacancy, WORST_CHAR))
    vacancy, events = Vacancy.post("V" * 64, "B" * 64, date(2026, 1, 1), **posted.model_dump())
    spec = PersonSpecification.model_validate(largest_data(PersonSpecification, WORST_CHAR))
    events += vacancy.scope(spec)
    events += vacancy.close("r" * 200)
    sizes = [len(to_cloudevent(e, source="/services/vacancies").to_bytes()) for e in events]
    assert max(sizes) < MAX_EVENT_BYTES


def test_the_longest_explanations_fit_their_bound() -> None:
    """Matched skills are named only up to a budget: 50 long ones still make a short reason."""
    skills = [f"{i:03d}" + "s" * 197 for i in range(MAX_SKILLS)]
    where = {"postcode_district": "WA5", "lat": 53.39, "lon": -2.62}
    client = ClientProfile(
        client_id="C" * 64,
        skills=skills,
        qualification_level=8,
        preferred_sectors=["x" * 200] * 20,
        location=where,
        max_travel_km=200,
        available_hours_per_week=48,
        priority_groups=["carer"],
        ward="w" * 200,
    )
    vacancy = VacancySpec(
        vacancy_id="V" * 64,
        employer_id="E" * 64,
        brokerage_id="B" * 64,
        title="t" * 200,
        sector="x" * 200,
        hours_per_week=48,
        location=where,
        required_skills=skills,
        desirable_skills=skills,
        min_qualification_level=0,
        target_priority_groups=["carer"],
        target_wards=["w" * 200],
    )
    evaluation = evaluate(client, vacancy)
    assert evaluation.proposable
    skills_reason = next(r for r in evaluation.reasons if r.factor == "skills")
    assert skills_reason.explanation.startswith("has 50 of 50 required skills (000")
    assert skills_reason.explanation.endswith(" more)")
    _, events = Match.propose(client, vacancy, evaluation)  # validates MatchProposed
    assert all(len(r.explanation) <= 400 for r in events[0].reasons)  # type: ignore[attr-defined]


# --- Refused at the door: JCP input events (then dead-lettered) --------------------------------

CLAIM = {
    "claimant_ref": "CLM-000123",
    "benefit": "UC",
    "claim_start": "2026-11-01",
    "jcp_office": "Warrington",
    "local_authority": "Warrington",
    "ward": "Bewsey & Whitecross",
    "postcode_district": "WA5",
    "age_band": "25-49",
    "priority_groups": ["lone_parent"],
}


def _failing_fields(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"priority_groups": ["carer"] * 11}, "priority_groups"),
        ({"claimant_ref": "C" * 65}, "claimant_ref"),
        ({"jcp_office": "o" * 201}, "jcp_office"),
        ({"ward": "w" * 201}, "ward"),
        ({"local_authority": "a" * 201}, "local_authority"),
        ({"postcode_district": "WA10X"}, "postcode_district"),
    ],
)
def test_an_oversize_jcp_event_fails_validation_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    jcp.ClaimantRegistered.model_validate(CLAIM)
    with pytest.raises(ValidationError) as caught:
        jcp.ClaimantRegistered.model_validate({**CLAIM, **change})
    assert field in _failing_fields(caught.value)


# --- Refused at the door: HTTP bodies and queries (422 naming the field) -----------------------


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


async def _ready() -> dict[str, bool]:
    return {}


def _service(router: Any) -> FastAPI:
    app = create_http_app(title="t", description="d", lifespan=_no_lifespan, readiness=_ready)
    app.include_router(router)
    app.state.tokens = {
        "eb": Principal(
            org_id="EB-01", role="employer_brokerage", partnership="cheshire-warrington"
        ),
        "ops": Principal(org_id="OPS-01", role="operations", partnership="cheshire-warrington"),
        "p1": Principal(org_id="P-01", role="provider", partnership="cheshire-warrington"),
    }
    return app


class _Untouched:
    """A store no refused request may reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused request reached the store ({name})")


async def _call(router: Any, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_service(router))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )


def _refused_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    return {f["field"] for f in body["fields"]}


SPEC = {
    "required_skills": ["customer service"],
    "desirable_skills": ["cash handling"],
    "min_qualification_level": 1,
    "target_priority_groups": [],
    "target_wards": [],
    "guarantees": {"interview": True, "work_trial": False},
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target_priority_groups": ["carer"] * 11}, "target_priority_groups"),
        ({"target_priority_groups": ["carer"] * 1000}, "target_priority_groups"),
        ({"required_skills": ["s"] * 51}, "required_skills"),
        ({"desirable_skills": ["s"] * 51}, "desirable_skills"),
        ({"required_skills": ["s" * 201]}, "required_skills.0"),
        ({"target_wards": ["w"] * 101}, "target_wards"),
        ({"target_wards": ["w" * 201]}, "target_wards.0"),
    ],
)
async def test_an_oversize_person_specification_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    from services.vacancies.api import build_router

    response = await _call(
        build_router(_Untouched()),  # type: ignore[arg-type]
        "PUT",
        "/vacancies/VAC-1/scope",
        "eb",
        json={**SPEC, **change},
    )
    assert field in _refused_fields(response)


async def test_a_huge_person_specification_is_refused_before_it_is_read() -> None:
    """The case that halted the relay: nothing then bounded `target_priority_groups`."""
    from services.vacancies.api import build_router

    response = await _call(
        build_router(_Untouched()),  # type: ignore[arg-type]
        "PUT",
        "/vacancies/VAC-1/scope",
        "eb",
        json={**SPEC, "target_priority_groups": ["long_term_unemployed"] * 100_000},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_person_specification_at_its_bounds_is_accepted() -> None:
    spec = PersonSpecification.model_validate(
        {
            **SPEC,
            "required_skills": ["s" * 200] * 50,
            "desirable_skills": ["s" * 200] * 50,
            "target_priority_groups": ["carer"] * 10,
            "target_wards": ["w" * 200] * 100,
        }
    )
    assert len(spec.required_skills) == 50


async def test_an_oversize_vacancy_is_refused_naming_the_field() -> None:
    from services.vacancies.api import build_router

    vacancy = {
        "employer_id": "E" * 65,
        "title": "t" * 201,
        "sector": "retail",
        "positions": 1001,
        "hours_per_week": 24,
        "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
        "closing_date": "2099-12-31",
        "description": "d" * 5001,
    }
    response = await _call(
        build_router(_Untouched()),  # type: ignore[arg-type]
        "POST",
        "/vacancies",
        "eb",
        json=vacancy,
    )
    assert _refused_fields(response) >= {"employer_id", "title", "positions", "description"}


async def test_an_oversize_subscription_is_refused_naming_the_field() -> None:
    from services.notifications.api import build_router

    subscription = {
        "url": "https://example.org/" + "p" * 2100,
        "secret": "s" * 257,
        "event_types": ["matching.match.proposed"] * 65,
    }
    response = await _call(
        build_router(_Untouched()),  # type: ignore[arg-type]
        "POST",
        "/subscriptions",
        "p1",
        json=subscription,
    )
    assert _refused_fields(response) >= {"url", "secret", "event_types"}


async def test_an_oversize_match_query_is_refused_naming_the_parameter() -> None:
    from services.matching.api import build_router

    response = await _call(
        build_router(_Untouched()),  # type: ignore[arg-type]
        "GET",
        "/matches",
        "ops",
        params={"vacancy_id": "V" * 65},
    )
    assert "query.vacancy_id" in _refused_fields(response)
