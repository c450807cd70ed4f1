"""One consumer, several read models: every event goes, in order, to each dispatcher that
handles its type (the vacancy and client projections first, then the counters that read them).

Unlike `runtime.handlers.Routed`, one event type may have several dispatchers. Each is
idempotent on its own, so a batch handled again after a failure part-way is a no-op where it
was stored."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.handlers import Dispatcher, Item, Rejection


class Fanned:
    def __init__(self, *dispatchers: Dispatcher) -> None:
        self._dispatchers = dispatchers
        self.models = {t: m for d in dispatchers for t, m in d.models.items()}

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        rejected: list[Rejection] = []
        seen: set[int] = set()
        for dispatcher in self._dispatchers:
            mine = [i for i in items if i.event.type in dispatcher.models]
            if not mine:
                continue
            for item, reason in await dispatcher.handle(mine):
                if id(item) not in seen:
                    seen.add(id(item))
                    rejected.append((item, reason))
        return rejected
