"""A circuit breaker per webhook endpoint: after a run of failures the endpoint is left alone
for a while, so a dead receiver costs one probe per cool-down instead of a delivery attempt
(and a connection's deadline) for every notification queued for it.

Pure and per process: each replica learns an endpoint's health from its own attempts. Time is
passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Breaker:
    failure_threshold: int = 5
    cool_down_seconds: float = 30.0
    max_cool_down_seconds: float = 300.0
    failures: int = 0
    opened: int = 0  # how many times in a row it opened: the cool-down doubles with each
    open_until: float = 0.0
    probing: bool = False

    def allows(self, now: float) -> bool:
        """Whether an attempt may go now. Once open, the first call after the cool-down is the
        one probe (half-open); others wait until it has answered."""
        if self.open_until == 0.0:
            return True
        if now < self.open_until or self.probing:
            return False
        self.probing = True
        return True

    def retry_at(self, now: float) -> float:
        """When deliveries held back by the open breaker should be looked at again."""
        return max(self.open_until, now + 1.0)

    def succeeded(self) -> None:
        self.failures, self.opened, self.open_until, self.probing = 0, 0, 0.0, False

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened += 1
            cool_down = min(
                self.cool_down_seconds * 2 ** (self.opened - 1), self.max_cool_down_seconds
            )
            self.open_until, self.probing, self.failures = now + cool_down, False, 0


@dataclass
class Breakers:
    failure_threshold: int = 5
    cool_down_seconds: float = 30.0
    by_endpoint: dict[str, Breaker] = field(default_factory=dict)

    def __call__(self, endpoint: str) -> Breaker:
        if endpoint not in self.by_endpoint:
            self.by_endpoint[endpoint] = Breaker(self.failure_threshold, self.cool_down_seconds)
        return self.by_endpoint[endpoint]
