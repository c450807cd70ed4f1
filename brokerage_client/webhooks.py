"""A webhook receiver that checks every signature, as a provider's or employer's system would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Listens on 127.0.0.1; keeps each notification's body and flags any that changes."""

    def __init__(self, secret: str, port: int = 0, fail_first: int = 0) -> None:
        self.secret = secret.encode()
        self.received: dict[str, bytes] = {}
        self.deliveries = 0
        self.bad_signatures = 0
        self.changed_content: list[str] = []
        self._fail_remaining = fail_first
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for body in self.received.values()]

    def _accept(self, body: bytes, notification_id: str, signature: str) -> int:
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        with self._lock:
            self.deliveries += 1
            if not hmac.compare_digest(expected, signature):
                self.bad_signatures += 1
                return 401
            if self._fail_remaining > 0:  # simulate an outage: the platform must retry
                self._fail_remaining -= 1
                return 503
            previous = self.received.setdefault(notification_id, body)
            if previous != body:
                self.changed_content.append(notification_id)
            return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._accept(
                    body,
                    self.headers.get("X-Notification-Id", ""),
                    self.headers.get("X-Signature-256", ""),
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
