"""The consumer's rules, a partition batch at a time, with in-memory fakes (Kafka: integration)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.backoff import Backoff
from runtime.consumer import BatchProcessor
from runtime.decoding import Poison, decode_envelope
from runtime.documents import StaleAggregate
from runtime.handlers import Item
from schemas import jcp
from schemas.envelope import CloudEvent
from tests.unit.fakes import CLAIM, RecordingDeadLetters, record

NO_WAIT = Backoff(base=0.0, cap=0.0)


def claim_event(**data: Any) -> bytes:
    return CloudEvent.create(
        type="jcp.claimant.registered", source="/jcp", subject="CLM-1", data={**CLAIM, **data}
    ).to_bytes()


class ListDispatcher:
    """Records what it handles; fails as told."""

    models = {jcp.ClaimantRegistered.event_type: jcp.ClaimantRegistered}

    def __init__(self, *, fail_office: str = "", transient_times: int = 0) -> None:
        self.handled: list[str] = []
        self.calls: list[int] = []
        self._fail_office = fail_office
        self._transient = transient_times

    async def handle(self, items: list[Item]) -> list[tuple[Item, str]]:
        self.calls.append(len(items))
        if self._transient:
            self._transient -= 1
            raise ConnectionError("database away")
        if any(i.data.jcp_office == self._fail_office for i in items):
            raise KeyError("a bug")
        rejected = [(i, "no such office") for i in items if i.data.jcp_office == "nowhere"]
        self.handled += [i.event.id for i in items if i.data.jcp_office != "nowhere"]
        return rejected


def processor(dispatcher: ListDispatcher) -> tuple[BatchProcessor, RecordingDeadLetters]:
    dead = RecordingDeadLetters()
    return BatchProcessor(dispatcher, dead, max_attempts=3, backoff=NO_WAIT), dead


async def test_a_batch_is_handled_in_one_call_in_order() -> None:
    dispatcher = ListDispatcher()
    proc, dead = processor(dispatcher)
    values = [claim_event() for _ in range(5)]
    await proc.process([record(v, offset=n) for n, v in enumerate(values)])
    assert dispatcher.calls == [5]
    assert dispatcher.handled == [json.loads(v)["id"] for v in values]
    assert dead.letters == []


DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not-json"),
        (b"\xff\xfe\x00garbage", "not-json"),
        (DEEP, "not-json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "not-json"),
        (HUGE, "too-large"),
        (None, "no-value"),
        (b"[1, 2, 3]", "not-a-cloudevent"),
        (b"42", "not-a-cloudevent"),
        (json.dumps({"hello": "world"}).encode(), "not-a-cloudevent"),
        (
            json.dumps({**json.loads(claim_event()), "data": [1, 2]}).encode(),
            "not-a-cloudevent",
        ),
        (
            json.dumps({**json.loads(claim_event()), "data": {"claimant_ref": 7}}).encode(),
            "invalid-data",
        ),
    ],
)
async def test_any_bytes_at_all_go_to_the_dlq_and_the_next_record_is_handled(value, reason):
    dispatcher = ListDispatcher()
    proc, dead = processor(dispatcher)
    headers = [("trace", b"abc"), ("nothing", None), ("binary", b"\x00\xff")]
    good = claim_event()
    await proc.process([record(value, offset=0, headers=headers), record(good, offset=1)])
    assert dispatcher.handled == [json.loads(good)["id"]], "the consumer carries on after poison"
    ((letter, got, _),) = dead.letters
    assert got == reason
    assert letter.value == value and letter.headers == headers


def test_decoding_never_raises_and_never_echoes_values() -> None:
    poison = decode_envelope(
        json.dumps({**json.loads(claim_event()), "subject": "", "id": "AB123456C" * 40}).encode()
    )
    assert isinstance(poison, Poison)
    assert "id" in poison.detail and "AB123456C" not in poison.detail


async def test_invalid_data_is_dead_lettered_without_echoing_personal_values() -> None:
    dispatcher = ListDispatcher()
    proc, dead = processor(dispatcher)
    await proc.process([record(claim_event(claimant_ref="AB123456C"))])
    ((_, reason, detail),) = dead.letters
    assert reason == "invalid-data"
    assert "claimant_ref" in detail and "AB123456C" not in detail
    assert dispatcher.handled == []


async def test_rejected_events_are_dead_lettered_and_unknown_types_skipped() -> None:
    dispatcher = ListDispatcher()
    proc, dead = processor(dispatcher)
    other = CloudEvent.create(
        type="jcp.claimant.moved-house", source="/jcp", subject="CLM-1", data={"anything": 1}
    ).to_bytes()
    await proc.process([record(other, offset=0), record(claim_event(jcp_office="nowhere"))])
    assert dead.reasons == ["rejected"]
    assert dispatcher.handled == []


async def test_a_failing_record_is_found_by_halving_retried_then_dead_lettered() -> None:
    dispatcher = ListDispatcher(fail_office="bug")
    proc, dead = processor(dispatcher)
    values = [claim_event() for _ in range(7)]
    values[5] = claim_event(jcp_office="bug")
    await proc.process([record(v, offset=n) for n, v in enumerate(values)])
    ids = [json.loads(v)["id"] for v in values]
    assert set(dispatcher.handled) == set(ids) - {ids[5]}
    assert dead.reasons == ["handler-error"]
    assert dead.letters[0][0].offset == 5
    # 7 -> 3 + 4 -> (1 + 2) + (2 + 2) -> ... then 2 more tries of the failing one
    assert dispatcher.calls.count(1) >= 3


@pytest.mark.parametrize("error", [ConnectionError, StaleAggregate])
async def test_infrastructure_errors_and_lost_races_are_raised_for_the_batch_to_be_retried(
    error: type[Exception],
) -> None:
    class Failing(ListDispatcher):
        async def handle(self, items: list[Item]) -> list[tuple[Item, str]]:
            raise error("away")

    proc, dead = processor(Failing())
    with pytest.raises(error):
        await proc.process([record(claim_event())])
    assert dead.letters == [], "never dead-lettered: the record is read again"
