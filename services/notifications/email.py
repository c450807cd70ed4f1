"""Email: human-readable messages (plain text and HTML) and their sending through SMTP.

A message carries only what identifies records pseudonymously (the ids of the referral, client,
vacancy or match, and a status): mail leaves the platform's control once sent, so the reasons,
scores and everything else stay in the inbox, which checks who reads it.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications.domain import Notification

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
# The fields of an event's data that may appear in an email: pseudonymous ids and a status.
_SHOWN = ("referral_id", "client_id", "provider_id", "vacancy_id", "match_id", "placement_id",
          "submission_id", "status")  # fmt: skip


def headline(kind: str) -> str:
    """`referrals.referral.accepted` -> `Referral accepted`."""
    parts = kind.split(".")
    words = " ".join(parts[1:]).replace("-", " ") if len(parts) > 1 else kind
    return words[:1].upper() + words[1:]


def _entry(notification: Notification) -> dict[str, Any]:
    data = notification.payload().get("event", {}).get("data", {})
    ids = [(name.replace("_", " "), str(data[name])[:64]) for name in _SHOWN if name in data]
    return {
        "headline": headline(notification.kind),
        "created_at": notification.created_at.strftime("%d %b %Y %H:%M UTC"),
        "notification_id": notification.notification_id,
        "ids": ids,
    }


def compose(
    notifications: list[Notification], *, to: str, sender: str, digest_day: str | None = None
) -> EmailMessage:
    entries = [_entry(n) for n in notifications]
    if digest_day:
        title = f"Your notifications of {digest_day} ({len(entries)})"
    else:
        title = entries[0]["headline"] if entries else "Notification"
    message = EmailMessage()
    message["Subject"] = f"[Work brokerage] {title}"
    message["From"] = sender
    message["To"] = to
    if len(notifications) == 1:
        message["X-Notification-Id"] = notifications[0].notification_id
    context = {"title": title, "notifications": entries}
    message.set_content(_TEMPLATES.get_template("notification.txt.j2").render(context))
    message.add_alternative(
        _TEMPLATES.get_template("notification.html.j2").render(context), subtype="html"
    )
    return message


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    timeout_seconds: float
    sender: str

    async def send(self, message: EmailMessage) -> str | None:
        """None once the SMTP server accepted the message; otherwise the error's type."""
        try:
            async with asyncio.timeout(self.timeout_seconds + 1):
                await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException, TimeoutError) as exc:
            return type(exc).__name__
        return None

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
            smtp.send_message(message)
