"""HTTP access to the four services, one bearer token per caller."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

DEFAULT_URLS = {
    "referrals": "http://127.0.0.1:8101",
    "vacancies": "http://127.0.0.1:8102",
    "matching": "http://127.0.0.1:8103",
    "notifications": "http://127.0.0.1:8104",
}


class Api:
    """One caller (a token) talking to one service."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.request(
            method, self._base + path, headers=self._headers, **kwargs
        )

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.request("POST", path, json=body)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.request("PUT", path, json=body)


@dataclass
class Platform:
    """The platform as seen from outside: service URLs and the tokens of known callers."""

    client: httpx.AsyncClient
    urls: dict[str, str]
    tokens: dict[str, str]  # caller name -> token, e.g. {"jcp": "...", "P-01": "..."}

    @classmethod
    def with_dev_tokens(
        cls, client: httpx.AsyncClient, tokens_file: Path, urls: dict[str, str] | None = None
    ) -> Platform:
        """Callers named by org id (P-01, JCP-BCBC), and the first jcp and operations tokens also
        by role."""
        tokens: dict[str, str] = {}
        for token, who in json.loads(tokens_file.read_text()).items():
            name = who["role"] if who["role"] in ("jcp", "operations") else who["org_id"]
            tokens.setdefault(name, token)
            tokens.setdefault(who["org_id"], token)  # every caller also by org id (JCP-BCBC)
        return cls(client=client, urls=urls or dict(DEFAULT_URLS), tokens=tokens)

    def as_(self, caller: str | None, service: str) -> Api:
        token = self.tokens[caller] if caller else None
        return Api(self.client, self.urls[service], token)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        for service, url in self.urls.items():
            await poll(
                lambda u=url: self._ready(u),
                timeout=timeout,
                what=f"{service} at {url} to be ready",
            )

    async def _ready(self, url: str) -> bool:
        try:
            return (await self.client.get(f"{url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False


async def poll(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Await `check` until it returns something truthy; the platform is asynchronous."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)
