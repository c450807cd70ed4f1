"""The one backoff rule: every retry in the platform waits by it, so nothing retries in a loop.

Exponential from `base` doubling to `cap`, with "full jitter" over the upper half, so replicas
that failed together do not retry together (AWS Architecture Blog, "Exponential Backoff And
Jitter"). The consumer, the outbox relay and the supervisor all use it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number `attempt + 1` (`attempt` counts from 1)."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        if not self.jitter:
            return ceiling
        return ceiling / 2 + random.uniform(0, ceiling / 2)
