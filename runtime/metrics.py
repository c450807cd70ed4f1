"""Prometheus metrics of the event path, served at `/metrics` by every service.

Each replica is its own process, so the default registry is enough: Prometheus tells replicas
apart by their scrape target. Labels are topics, event types and reasons only (a small, fixed
set): never a key, a subject or anything taken from a record's content.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

CONSUMED = Counter(
    "events_consumed",
    "Records fetched by the service's consumer, per topic",
    ["topic"],
)
HANDLED = Counter(
    "events_handled",
    "Events whose handlers applied (redeliveries included: they are a no-op), per topic and type",
    ["topic", "type"],
)
DEAD_LETTERED = Counter(
    "events_dead_lettered",
    "Records moved to `<topic>.dlq`, per source topic and reason",
    ["topic", "reason"],
)
PUBLISHED = Counter(
    "events_published",
    "Records acknowledged by the broker, per topic (events, dead letters and redrives)",
    ["topic"],
)
PUBLISH_FAILED = Counter(
    "events_publish_failed",
    "Records the broker refused or did not acknowledge, per topic",
    ["topic"],
)
BATCH_RECORDS = Histogram(
    "consumer_batch_records",
    "Records per partition batch handed to the handlers",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
HANDLER_SECONDS = Histogram(
    "handler_batch_seconds",
    "Time to handle one partition's batch (decode, handlers, writes, dead letters), per topic",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog_events",
    "Events written with their state change and not yet published by the relay",
)
OUTBOX_PARKED = Counter(
    "outbox_parked_events",
    "Events the relay could never publish and parked in `outbox_parked`",
)


def exposition() -> tuple[bytes, str]:
    """The default registry in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
