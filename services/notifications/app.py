"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.handlers import bind
from runtime.service import ServiceRuntime
from schemas.topics import MATCH_EVENTS, NOTIFICATION_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.notifications.api import build_router
from services.notifications.handlers import HANDLERS
from services.notifications.settings import Settings
from services.notifications.store import NotificationsStore
from services.notifications.webhooks import WebhookSender


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = NotificationsStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    rt.consume(
        [REFERRAL_EVENTS, VACANCY_EVENTS, MATCH_EVENTS], rt.effects(bind(HANDLERS, store=store))
    )
    rt.publishes(NOTIFICATION_EVENTS)
    sender = WebhookSender(
        store,
        max_attempts=settings.webhook_max_attempts,
        base_backoff_seconds=settings.webhook_backoff_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    rt.background.append(sender.job())
    return rt.http_app(
        title="Notifications service",
        description="Signed webhooks and an inbox for providers and employer brokerages; "
        "each recipient sees only what it may.",
        router=build_router(store),
        setup=store.ensure_indexes,
    )
