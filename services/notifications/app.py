"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.consumer import EventConsumer
from runtime.http import create_http_app
from runtime.service import ServiceRuntime
from schemas.envelope import CloudEvent
from schemas.topics import MATCH_EVENTS, NOTIFICATION_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.notifications.api import build_router
from services.notifications.handlers import build_handlers
from services.notifications.settings import Settings
from services.notifications.store import NotificationsStore
from services.notifications.webhooks import WebhookSender


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = NotificationsStore(rt.db, on_saved=rt.wake_relay)
    rt.with_outbox(store.outbox_collections)
    EventConsumer(
        broker=rt.broker,
        group_id=settings.group_id,
        topics=[REFERRAL_EVENTS, VACANCY_EVENTS, MATCH_EVENTS],
        handlers=build_handlers(store),
        inbox=rt.inbox,
        max_attempts=settings.handler_max_attempts,
    )
    rt.broker.publisher(
        NOTIFICATION_EVENTS.name,
        schema=CloudEvent,
        title=NOTIFICATION_EVENTS.name,
        description="Webhook delivery outcomes, keyed by recipient org_id.",
    )
    sender = WebhookSender(
        store,
        max_attempts=settings.webhook_max_attempts,
        base_backoff_seconds=settings.webhook_backoff_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    rt.background.append(sender.job())
    title = "Notifications service"
    description = (
        "Signed webhooks and an inbox for providers and employer brokerages; "
        "each recipient sees only what it may."
    )
    app = create_http_app(
        title=title,
        description=description,
        lifespan=rt.lifespan(setup=store.ensure_indexes),
        readiness=rt.readiness,
        asyncapi=lambda: rt.asyncapi(title, description),
    )
    app.include_router(build_router(store))
    return app
