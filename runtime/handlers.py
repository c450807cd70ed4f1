"""What a service does with each event type, run a batch at a time.

A service declares its handlers in a module-level registry, one `on_<event>` function per event
type, and its composition root binds their dependencies. Two kinds:

- `Apply`: the event changes one aggregate. The handler is a pure function from the aggregate
  as it is (or None) and the event to the aggregate as it becomes and the events that causes.
  `Aggregates` runs a batch of them with one bulk read of every aggregate the batch touches,
  the pure rule per event in order, and one bulk write; the ids of applied events are stored
  in each aggregate's own document, in the same write as the change, so a redelivery is a no-op.
- `Effect`: anything else (projections, fan-out). An async function per event, run in order;
  `Effects` checks the whole batch against the inbox once and records it once. A projection
  that a flood of one event type would otherwise write one document after another (JCP's
  register: 100,000 registrations) is declared `Batched`: it gets each run of consecutive
  events of its type in one call, and writes them as one burst.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from runtime.documents import Change, DocumentStore, StaleAggregate
from runtime.errors import DomainError
from runtime.events import enveloper
from runtime.inbox import Inbox
from schemas.base import EventData
from schemas.envelope import CloudEvent

A = TypeVar("A", bound=BaseModel)


class Rejected(Exception):
    """Raised by a handler for an event that is valid but can never be applied."""


@dataclass(frozen=True)
class Item:
    """A decoded, valid event of a type the service handles, as the consumer hands it over."""

    event: CloudEvent
    data: EventData
    offset: tuple[str, int] | None = None  # ("<topic>/<partition>", offset) when from Kafka


Rejection = tuple[Item, str]


class Dispatcher(Protocol):
    @property
    def models(self) -> Mapping[str, type[EventData]]: ...

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        """Store the effects of every item, in order; return the rejected ones.

        Raises when an effect could not be stored; what was stored stays, and handling the
        same items again has no second effect."""
        ...


Effect = Callable[[CloudEvent, Any], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """An effect that takes a run of consecutive events of its type, `[(event, data), ...]` in
    order, in one call. It must leave what handling them one by one, in order, would (for a
    projection that states fields outright: the last event of each key wins), and it never
    rejects an event."""

    handle: Callable[..., Awaitable[None]]


def bind(registry: Mapping[type[EventData], Callable[..., Any]], **deps: Any) -> dict[Any, Any]:
    """The registry's handlers with their dependencies given (the composition root calls it)."""
    return {
        model: Batched(functools.partial(handler.handle, **deps))
        if isinstance(handler, Batched)
        else functools.partial(handler, **deps)
        for model, handler in registry.items()
    }


class Effects:
    def __init__(self, handlers: Mapping[type[EventData], Effect | Batched], inbox: Inbox) -> None:
        self._handlers = {model.event_type: handler for model, handler in handlers.items()}
        self.models = {model.event_type: model for model in handlers}
        self._inbox = inbox

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        seen = await self._inbox.seen(item.event.id for item in items)
        done: list[tuple[str, str]] = []
        rejected: list[Rejection] = []
        run: list[Item] = []  # consecutive events of one Batched handler, not handled yet

        async def handle_run() -> None:
            handler = self._handlers[run[0].event.type]
            assert isinstance(handler, Batched)
            await handler.handle([(i.event, i.data) for i in run])
            done.extend((i.event.id, i.event.type) for i in run)
            run.clear()

        try:
            for item in items:
                if item.event.id in seen:
                    continue
                handler = self._handlers[item.event.type]
                if run and run[0].event.type != item.event.type:
                    await handle_run()  # in order: the run before the events after it
                if isinstance(handler, Batched):
                    run.append(item)
                    seen.add(item.event.id)
                    continue
                try:
                    await handler(item.event, item.data)
                except Rejected as exc:
                    rejected.append((item, str(exc)))
                    continue
                seen.add(item.event.id)
                done.append((item.event.id, item.event.type))
            if run:
                await handle_run()
        finally:
            await self._inbox.record(done)  # what is stored so far, even when a later one failed
        return rejected


@dataclass(frozen=True)
class Apply(Generic[A]):
    """A handler of events that change one aggregate.

    `aggregate_id` names the aggregate from the event's data; `apply` is pure: given the
    aggregate as loaded (None if there is none yet), the data and the event, it returns the
    aggregate as it becomes (None: no change) and the domain events the change emits. It raises
    `Rejected` or a `DomainError` for an event that can never apply.
    """

    aggregate_id: Callable[[Any], str]
    apply: Callable[[A | None, Any, CloudEvent], tuple[A | None, Sequence[EventData]]]
    creates: bool = False
    """The event usually makes a new aggregate (a registration): the batch then skips reading
    it and inserts it outright; only if it exists already is it read and the event applied
    again. That saves the one read per event that dominates an ingest."""


class Aggregates(Generic[A]):
    def __init__(
        self, store: DocumentStore[A], handlers: Mapping[type[EventData], Apply[A]], source: str
    ) -> None:
        self._store = store
        self._handlers = {model.event_type: handler for model, handler in handlers.items()}
        self.models = {model.event_type: model for model in handlers}
        self._source = source

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        ids = [self._handlers[item.event.type].aggregate_id(item.data) for item in items]
        creates = [self._handlers[item.event.type].creates for item in items]
        # Not read: aggregates that only creating events of this batch touch.
        unread = {i for i, c in zip(ids, creates, strict=True) if c}
        unread -= {i for i, c in zip(ids, creates, strict=True) if not c}
        rejected, stale = await self._apply(items, ids, assume_new=unread)
        if stale:
            # Assumed new but there already (a redelivery, JCP sending twice), or written
            # concurrently: apply those aggregates' events again, on what is stored now.
            again = [(item, i) for item, i in zip(items, ids, strict=True) if i in stale]
            stale_items = {id(item) for item, _ in again}
            rejected = [r for r in rejected if id(r[0]) not in stale_items]
            more, stale = await self._apply([p[0] for p in again], [p[1] for p in again], set())
            rejected += more
        if stale:
            # Written concurrently by another replica (a rebalance mid-batch): the consumer
            # handles the batch again; what this run stored is recognised as applied.
            raise StaleAggregate(f"{len(stale)} aggregates were written concurrently")
        return rejected

    async def _apply(
        self, items: Sequence[Item], ids: Sequence[str], assume_new: set[str]
    ) -> tuple[list[Rejection], set[str]]:
        loaded = await self._store.get_many(i for i in ids if i not in assume_new)
        state: dict[str, A | None] = {i: v.aggregate for i, v in loaded.items()}
        changes: dict[str, Change[A]] = {}
        rejected: list[Rejection] = []
        for item, aggregate_id in zip(items, ids, strict=True):
            before = loaded.get(aggregate_id)
            change = changes.get(aggregate_id)
            if (before and before.has_applied(item.event.id, item.offset)) or (
                change and change.has_applied(item.event.id, item.offset)
            ):
                continue  # a redelivery: applied already
            current = state.get(aggregate_id)
            try:
                after, emitted = self._handlers[item.event.type].apply(
                    current.model_copy(deep=True) if current is not None else None,
                    item.data,
                    item.event,
                )
            except (Rejected, DomainError) as exc:
                rejected.append((item, str(exc)))
                continue
            if after is None:
                continue
            state[aggregate_id] = after
            if change is None:
                change = changes[aggregate_id] = Change(after, loaded=before)
            change.aggregate = after
            change.events += enveloper(self._source, cause=item.event)(emitted)
            change.apply(item.event.id, item.offset)
        return rejected, await self._store.write(list(changes.values()))


class Routed:
    """Several dispatchers behind one consumer: each event type goes to the one that knows it.

    A service consumes several topics in one group (its inputs and its own events); the items
    of one batch come from one partition, so they mostly go to one dispatcher, in order."""

    def __init__(self, *dispatchers: Dispatcher) -> None:
        self._route = {t: d for d in dispatchers for t in d.models}
        if len(self._route) != sum(len(d.models) for d in dispatchers):
            raise ValueError("two dispatchers handle the same event type")
        self.models = {t: m for d in dispatchers for t, m in d.models.items()}

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        groups: dict[int, tuple[Dispatcher, list[Item]]] = {}
        for item in items:
            dispatcher = self._route[item.event.type]
            groups.setdefault(id(dispatcher), (dispatcher, []))[1].append(item)
        rejected: list[Rejection] = []
        for dispatcher, group in groups.values():
            rejected += await dispatcher.handle(group)
        return rejected
