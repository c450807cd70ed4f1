"""Turn any record's bytes into a CloudEvent, or say why not, without ever raising.

A consumer must survive whatever arrives: deep nesting (`json.loads` raises `RecursionError`),
huge values, invalid UTF-8, a JSON array or number where an object belongs, null or binary
headers. Every such record becomes a `Poison` with a reason and a detail made of field paths and
error kinds only: the input may be personal data, so no value of it is ever repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from schemas.envelope import CloudEvent

MAX_RECORD_BYTES = 1024 * 1024  # Kafka's default `max.message.bytes`; anything larger is forged
_MAX_PATH_PART = 64


@dataclass(frozen=True)
class Poison:
    reason: str  # not-json | not-a-cloudevent | invalid-data | too-large | no-value
    detail: str


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and messages only: the input values may be personal data."""
    parts = []
    for e in error.errors(include_input=False, include_url=False, include_context=False):
        path = ".".join(str(p)[:_MAX_PATH_PART] for p in e["loc"]) or "<root>"
        parts.append(f"{path}: {e['msg']}")
    return "; ".join(parts)[:1000]


def decode_envelope(value: bytes | None) -> CloudEvent | Poison:
    if value is None:
        return Poison("no-value", "the record has no value (a tombstone)")
    if len(value) > MAX_RECORD_BYTES:
        return Poison("too-large", f"{len(value)} bytes; at most {MAX_RECORD_BYTES}")
    try:
        # pydantic-core parses the JSON itself: faster than `json.loads`, and its parser
        # refuses deep nesting with an error instead of exhausting Python's stack.
        return CloudEvent.model_validate_json(value)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return Poison("not-json", "invalid JSON (syntax, encoding or nesting)")
        return Poison("not-a-cloudevent", describe_validation_error(exc))
    except (RecursionError, MemoryError) as exc:
        return Poison("not-json", type(exc).__name__)
