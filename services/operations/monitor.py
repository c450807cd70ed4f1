"""The fairness monitor's background check: months whose fairness figures changed are checked
against the four-fifths rule, and each disparity is raised once per group, measure and month.

Once: the disparity is stored under `_id` `partnership|group|measure|month` together with its
event (outbox), so a second check, a restart or another replica finds it there and raises
nothing; its event id derives from that id too.
"""

from __future__ import annotations

import asyncio

import structlog

from runtime.documents import AlreadyExists
from runtime.events import enveloper
from schemas.operations import DisparityDetected
from services.operations import kpis, reports
from services.operations.fairness import THRESHOLD
from services.operations.store import Disparity, OperationsStore

log = structlog.get_logger(__name__)

SOURCE = "/services/operations"


class FairnessMonitor:
    def __init__(
        self,
        store: OperationsStore,
        partnerships: list[str],
        every: float,
        touched: set[tuple[str, str]],
    ) -> None:
        self._store = store
        self._partnerships = partnerships
        self._every = every
        self.touched = touched  # (partnership, month) pairs the counters changed

    async def check(self, partnership: str, month: str) -> list[DisparityDetected]:
        start, end = reports.month_bounds(month)
        raised = []
        for measure in kpis.FAIRNESS_SELECTED:
            table = await reports.fairness_table(
                self._store.reader, [partnership], measure, start, end
            )
            for row in table:
                if not row.disparate:
                    continue
                key = f"{partnership}|{row.group}|{measure}|{month}"
                event = DisparityDetected(
                    partnership=partnership,
                    group=row.group,  # type: ignore[arg-type]
                    measure=measure,  # type: ignore[arg-type]
                    month=month,
                    clients=row.clients,
                    selected=row.selected,
                    rate=row.rate,
                    ratio=row.ratio,
                    threshold=THRESHOLD,
                )
                try:
                    await self._store.disparities.add(
                        Disparity(disparity_id=key),
                        enveloper(SOURCE, cause_id=f"fairness:{key}")([event]),
                    )
                except AlreadyExists:
                    continue
                log.info(
                    "fairness.disparity", partnership=partnership, measure=measure, month=month
                )
                raised.append(event)
        return raised

    async def _every_month_known(self) -> set[tuple[str, str]]:
        found = set()
        indexes = await self._store.indexes.get_many(
            f"{kpis.FAIRNESS_POOL}|{p}" for p in self._partnerships
        )
        for v in indexes.values():
            partnership = v.aggregate.index_id.split("|", 1)[1]
            found |= {(partnership, day[:7]) for day in v.aggregate.days}
        return found

    async def run(self) -> None:
        first = True
        while True:
            try:
                if first:
                    self.touched |= await self._every_month_known()
                    first = False
                pending = set(self.touched)
                self.touched.difference_update(pending)  # the set the counters add to
                for partnership, month in sorted(pending):
                    try:
                        await self.check(partnership, month)
                    except Exception:
                        self.touched.add((partnership, month))
                        raise
            except Exception as exc:  # the database away: try again next round
                log.warning("fairness.check_failed", error=type(exc).__name__)
            await asyncio.sleep(self._every)
