"""The five services. Each owns its MongoDB database and talks to the others only through Kafka."""

from __future__ import annotations

import importlib

from schemas.topics import Topic


def topics_of(service: str) -> tuple[tuple[Topic, ...], tuple[Topic, ...]]:
    """What a service's consumer group reads and what it writes, as its composition root
    declares them (`CONSUMES` and `PUBLISHES` in `services/<service>/app.py`): the one
    declaration its Kafka user's ACLs (`deploy/k8s`) and the tests' consumer groups are read
    from."""
    app = importlib.import_module(f"services.{service}.app")
    return tuple(app.CONSUMES), tuple(app.PUBLISHES)
