"""Log a repeated error once, then once more with how often it recurred: never a log storm.

A consumer stuck on an unreachable database, or a relay facing a refusing broker, meets the
same error many times a second. `RepeatedErrors` logs the first occurrence of each kind at once
and then at most one summary line per `window` seconds with the count since the last line.
Keys are error kinds (the exception's type and where it happened), never input values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class RepeatedErrors:
    def __init__(self, window: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (last logged at, suppressed)

    def report(self, key: str, event: str, *, level: str = "warning", **fields: Any) -> bool:
        """Log `event` unless the same `key` was logged within the window; True if logged."""
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        repeated = last[1] if last else 0
        self._seen[key] = (now, 0)
        extra = {"repeated": repeated} if repeated else {}
        getattr(log, level)(event, **fields, **extra)
        return True

    def resolved(self, key: str, event: str, **fields: Any) -> None:
        """The error of this kind stopped: say so once, with what was suppressed since."""
        last = self._seen.pop(key, None)
        if last is not None:
            log.info(event, **fields, suppressed=last[1])
