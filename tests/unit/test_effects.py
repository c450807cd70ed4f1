"""`Effects`: events in order, a redelivery skipped, and runs of a `Batched` handler's events
handed over in one call without changing the order of what comes before and after them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from runtime.handlers import Batched, Effects, Item, bind
from schemas import referrals as rev
from schemas.envelope import CloudEvent

CW = "cheshire-warrington"


class MemoryInbox:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def seen(self, event_ids: Iterable[str]) -> set[str]:
        return self.ids & set(event_ids)

    async def record(self, events: Sequence[tuple[str, str]]) -> None:
        self.ids |= {i for i, _ in events}


def registered(client_id: str, partnership: str = CW) -> rev.ClientRegistered:
    return rev.ClientRegistered(
        client_id=client_id, claimant_ref=f"CLM-{client_id}", benefit="UC",
        local_authority="Warrington", ward="Bewsey", postcode_district="WA5", age_band="25-49",
        partnership=partnership,
    )  # fmt: skip


def moved(client_id: str, to: str) -> rev.ClientMoved:
    return rev.ClientMoved(
        client_id=client_id, from_partnership=CW, to_partnership=to, local_authority="Dudley",
        ward="Castle", history_follows=False,
    )  # fmt: skip


def item(data: Any, n: int) -> Item:
    event = CloudEvent.create(type=data.event_type, source="/t", subject=data.client_id, data={})
    return Item(event.model_copy(update={"id": f"ev-{n}"}), data)


async def test_a_run_goes_in_one_call_between_what_comes_before_and_after_it() -> None:
    calls: list[tuple[str, list[str]]] = []
    partnership: dict[str, str] = {}

    async def on_registered(run: Sequence[tuple[CloudEvent, Any]], *, log: list) -> None:
        log.append(("registered", [e.id for e, _ in run]))
        partnership.update({d.client_id: d.partnership for _, d in run})

    async def on_moved(event: CloudEvent, data: rev.ClientMoved, *, log: list) -> None:
        log.append(("moved", [event.id]))
        partnership[data.client_id] = data.to_partnership

    handlers = bind(
        {rev.ClientRegistered: Batched(on_registered), rev.ClientMoved: on_moved}, log=calls
    )
    inbox = MemoryInbox()
    effects = Effects(handlers, inbox)  # type: ignore[arg-type]
    batch = [
        item(registered("CL-1"), 1),
        item(registered("CL-2"), 2),
        item(moved("CL-1", "bcbc"), 3),
        item(registered("CL-3"), 4),
        item(registered("CL-2", "bcbc"), 5),
    ]
    assert await effects.handle(batch) == []
    assert calls == [
        ("registered", ["ev-1", "ev-2"]),
        ("moved", ["ev-3"]),
        ("registered", ["ev-4", "ev-5"]),
    ]
    assert partnership == {"CL-1": "bcbc", "CL-2": "bcbc", "CL-3": CW}
    assert inbox.ids == {f"ev-{n}" for n in range(1, 6)}

    calls.clear()
    await effects.handle([*batch, item(registered("CL-4"), 6)])  # redelivered, and one more
    assert calls == [("registered", ["ev-6"])]


async def test_a_run_that_fails_is_not_recorded_and_goes_again_whole() -> None:
    attempts: list[list[str]] = []

    async def flaky(run: Sequence[tuple[CloudEvent, Any]]) -> None:
        attempts.append([e.id for e, _ in run])
        if len(attempts) == 1:
            raise ConnectionError("the database went away")

    inbox = MemoryInbox()
    effects = Effects({rev.ClientRegistered: Batched(flaky)}, inbox)
    batch = [item(registered(f"CL-{n}"), n) for n in range(3)]
    with pytest.raises(ConnectionError):
        await effects.handle(batch)
    assert inbox.ids == set()
    await effects.handle(batch)
    assert attempts == [["ev-0", "ev-1", "ev-2"]] * 2 and len(inbox.ids) == 3
