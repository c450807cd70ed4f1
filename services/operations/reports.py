"""The figures the endpoints answer with: counters added up per the pure rules of `kpis`,
`targets` and `fairness`, confined to the caller's partnerships."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from runtime.partnerships import UNASSIGNED, Partnerships
from runtime.principal import Principal
from services.operations import fairness, kpis, targets
from services.operations.counters import CounterReader


def scope(principal: Principal, partnerships: Partnerships) -> list[str]:
    """The partnerships whose figures the caller may read."""
    if principal.national:
        return [*sorted(partnerships.names), UNASSIGNED]
    return [principal.partnership]


async def kpi(
    reader: CounterReader,
    partnerships: Sequence[str],
    measure: str,
    by: str,
    start: date | None,
    end: date | None,
) -> list[dict[str, Any]]:
    if measure == "referral_conversion":
        started = kpis.add_up(await reader.days("referrals_started", partnerships, start, end), by)
        created = kpis.add_up(await reader.days("referrals_created", partnerships, start, end), by)
        return kpis.rows(kpis.conversion(started, created))
    return kpis.rows(kpis.add_up(await reader.days(measure, partnerships, start, end), by))


async def position(
    reader: CounterReader,
    partnerships: Sequence[str],
    measure: str,
    filters: dict[str, str],
    start: date,
    end: date,
) -> float:
    dimension, key = next(iter(filters.items()), (None, None))

    async def count(m: str) -> int:
        return kpis.total(await reader.days(m, partnerships, start, end), dimension, key)

    if measure == "referral_conversion":
        created = await count("referrals_created")
        return round(await count("referrals_started") / created, 4) if created else 0.0
    return float(await count(measure))


async def target_report(
    reader: CounterReader, t: targets.Target, partnerships: Sequence[str], now: datetime
) -> dict[str, object]:
    reached = await position(reader, partnerships, t.measure, t.filters, t.start, now.date())
    return targets.report(t, reached, now)


async def fairness_table(
    reader: CounterReader,
    partnerships: Sequence[str],
    measure: str,
    start: date | None,
    end: date | None,
) -> list[fairness.GroupRate]:
    pool = kpis.add_up(
        await reader.days(kpis.FAIRNESS_POOL, partnerships, start, end), "priority_group"
    )
    chosen = kpis.add_up(
        await reader.days(kpis.FAIRNESS_SELECTED[measure], partnerships, start, end),
        "priority_group",
    )
    return fairness.rates(pool, chosen)


def month_bounds(month: str) -> tuple[date, date]:
    year, m = (int(x) for x in month.split("-"))
    return date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1])
