"""Property tests: whatever bytes or events arrive, decoding and the batch processor never crash,
every invalid record is dead-lettered (with field paths, never values) and every valid one is
handled, once, in order.

The dispatcher below accepts every event model of the published language, so the decoding of
every consumer (each accepts a subset of these models) is covered.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runtime.backoff import Backoff
from runtime.consumer import BatchProcessor
from runtime.decoding import Poison, decode_envelope
from runtime.handlers import Item
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from tests.unit.fakes import CLAIM, RecordingDeadLetters, record

MARKER = "Zq7-SECRET-VALUE"  # planted in inputs: must never reach a dead letter's detail
TYPES = sorted(EVENT_MODELS)
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Everything:
    """Handles every event type; records what it was given."""

    models = dict(EVENT_MODELS)

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def handle(self, items: list[Item]) -> list[tuple[Item, str]]:
        self.handled += [i.event.id for i in items]
        return []


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.just(MARKER),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip


@st.composite
def valid_looking_data(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    """The model's own field names with arbitrary JSON values, some left out, some extra; or a
    valid claim with one field changed."""
    if event_type == "jcp.claimant.registered" and draw(st.booleans()):
        data = dict(CLAIM)
        field = draw(st.sampled_from(sorted(CLAIM)))
        if draw(st.booleans()):
            data[field] = draw(json_value)
        return data
    fields = sorted(EVENT_MODELS[event_type].model_fields)
    chosen = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
    data = {f: draw(json_value) for f in chosen}
    data.update(draw(st.dictionaries(st.text(max_size=8), json_value, max_size=2)))
    return data


@st.composite
def valid_looking_events(draw: st.DrawFn) -> bytes:
    event_type = draw(st.sampled_from([*TYPES, "unknown.event.type"]))
    data = draw(valid_looking_data(event_type)) if event_type in EVENT_MODELS else {}
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(st.uuids()).hex,
        "source": "/fuzz",
        "type": event_type,
        "time": "2026-11-23T10:15:00Z",
        "subject": "S-1",
        "data": data,
    }
    if draw(st.integers(0, 5)) == 0:  # sometimes break the envelope itself
        key = draw(st.sampled_from(sorted(envelope)))
        envelope[key] = draw(json_value)
    return json.dumps(envelope).encode()


arbitrary_values = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.builds(lambda v: json.dumps(v).encode(), json_value),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 5000)),
    valid_looking_events(),
)


def _expected(value: bytes | None) -> str:
    """What must happen to a record, decided independently of the processor's code paths."""
    if value is None:
        return "dead"
    try:
        envelope = CloudEvent.model_validate_json(value)
    except (ValidationError, RecursionError):
        return "dead"
    model = EVENT_MODELS.get(envelope.type)
    if model is None:
        return "skipped"
    try:
        model.model_validate(envelope.data)
    except (ValidationError, RecursionError):
        return "dead"
    return "handled"


@PROFILE
@given(st.binary(max_size=2000))
def test_decoding_never_raises_on_arbitrary_bytes(value: bytes) -> None:
    result = decode_envelope(value)
    assert isinstance(result, CloudEvent | Poison)


@PROFILE
@given(valid_looking_events())
def test_decoding_valid_looking_events_never_repeats_a_value(value: bytes) -> None:
    result = decode_envelope(value)
    if isinstance(result, Poison):
        assert MARKER not in result.detail


@PROFILE
@given(st.lists(arbitrary_values, min_size=1, max_size=12))
async def test_every_record_is_handled_or_dead_lettered_and_the_batch_never_crashes(
    values: list[bytes | None],
) -> None:
    dispatcher = Everything()
    dead = RecordingDeadLetters()
    processor = BatchProcessor(dispatcher, dead, max_attempts=2, backoff=Backoff(0.0, 0.0))
    records = [record(v, offset=n) for n, v in enumerate(values)]
    await processor.process(records)

    dead_offsets = [r.offset for r, _, _ in dead.letters]
    expected = [_expected(v) for v in values]
    assert dead_offsets == [n for n, e in enumerate(expected) if e == "dead"]
    handled = [n for n, e in enumerate(expected) if e == "handled"]
    assert len(dispatcher.handled) == len(handled), "every valid record handled, once, in order"
    for _, reason, detail in dead.letters:
        assert reason in {"not-json", "not-a-cloudevent", "invalid-data", "no-value"}
        assert MARKER not in detail, "a dead letter's detail never repeats an input value"
        assert len(detail) <= 1000
