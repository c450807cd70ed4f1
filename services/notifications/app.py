"""Composition root of the notifications service."""

from __future__ import annotations

from datetime import timedelta

import structlog
from fastapi import FastAPI

from runtime.auth import read_static_tokens
from runtime.backoff import Backoff
from runtime.handlers import bind
from runtime.service import ServiceRuntime
from schemas.topics import (
    MATCH_EVENTS,
    NOTIFICATION_EVENTS,
    OPERATIONS_EVENTS,
    REFERRAL_EVENTS,
    VACANCY_EVENTS,
)
from services.notifications import alerts
from services.notifications.api import build_router
from services.notifications.breaker import Breakers
from services.notifications.delivery import DeliveryWorker
from services.notifications.digest import DIGEST_DUE, digest_handler
from services.notifications.email import Mailer
from services.notifications.handlers import HANDLERS
from services.notifications.rules import operations_directory
from services.notifications.secret_box import SecretBox
from services.notifications.settings import Settings
from services.notifications.store import NotificationsStore
from services.notifications.url_policy import allowed_hosts_from
from services.notifications.webhooks import WebhookTransport

log = structlog.get_logger(__name__)


# What the service reads and writes: its Kafka ACLs and the tests read these (topics_of).
CONSUMES = (REFERRAL_EVENTS, VACANCY_EVENTS, MATCH_EVENTS, OPERATIONS_EVENTS)
PUBLISHES = (NOTIFICATION_EVENTS,)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = NotificationsStore(rt.persistence)
    box = SecretBox(settings.webhook_secret_key)
    if box.is_dev_default:
        log.warning("webhook.secret_key_is_the_dev_default", hint="set WEBHOOK_SECRET_KEY")
    allowed_hosts = allowed_hosts_from(settings.webhook_allowed_hosts)
    mailer = Mailer(
        settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds, settings.email_from
    )
    timers = rt.timers({DIGEST_DUE: digest_handler(store, mailer)})
    rt.with_outbox(store.outbox_collections)
    # Operations organisations by partnership, from the static tokens and the setting: they
    # hear of fairness disparities in their partnership (`alerts.py`).
    tokens = settings.tokens_file
    directory = operations_directory(
        read_static_tokens(tokens).values() if tokens and tokens.is_file() else (),
        settings.operations_organisations,
    )
    rt.consume(
        CONSUMES,
        rt.effects(
            {
                **bind(HANDLERS, store=store, clock=rt.clock, timers=timers),
                **bind(
                    alerts.HANDLERS, store=store, clock=rt.clock, timers=timers, directory=directory
                ),
            }
        ),
    )
    rt.publishes(*PUBLISHES)
    worker = DeliveryWorker(
        store,
        clock=rt.clock,
        box=box,
        transport=WebhookTransport(
            connect_seconds=settings.webhook_connect_timeout_seconds,
            total_seconds=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        ),
        mailer=mailer,
        allowed_hosts=allowed_hosts,
        max_attempts=settings.webhook_max_attempts,
        backoff=Backoff(base=settings.webhook_backoff_seconds, cap=300.0),
        concurrency=settings.webhook_concurrency_per_endpoint,
        breakers=Breakers(settings.webhook_breaker_failures, settings.webhook_breaker_seconds),
        poll_seconds=settings.delivery_poll_seconds,
    )
    rt.background.append(worker.job())
    return rt.http_app(
        title="Notifications service",
        description="Signed webhooks, email and an inbox for providers and employer "
        "brokerages; each recipient sees only what it may. Webhook URLs follow an address "
        "policy, every delivery has a deadline, and one slow receiver delays no other.",
        router=build_router(
            store,
            box,
            allowed_hosts,
            rt.clock.now,
            timedelta(hours=settings.webhook_secret_overlap_hours),
        ),
        setup=store.ensure_indexes,
    )
