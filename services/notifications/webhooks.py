"""How one webhook is sent: to the address the URL policy checked, within one deadline.

- The connection goes to the resolved address that `url_policy.check` approved (the URL's host
  travels in `Host` and, for https, as the TLS server name), so a DNS answer that changes
  between the check and the connection (DNS rebinding) cannot redirect it.
- Redirects are not followed and proxies from the environment are not used.
- One total deadline covers connecting, sending and reading the status line, headers and at
  most `max_response_bytes` of body: a receiver trickling a byte every few seconds is cut off at
  the deadline (httpx's own timeouts are per read, which a trickle never trips).
"""

from __future__ import annotations

import asyncio

import httpx

from services.notifications.url_policy import Target


class WebhookTransport:
    def __init__(
        self, *, connect_seconds: float, total_seconds: float, max_response_bytes: int
    ) -> None:
        self.total_seconds = total_seconds
        self._max_response_bytes = max_response_bytes
        timeout = httpx.Timeout(total_seconds, connect=min(connect_seconds, total_seconds))
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> str | None:
        """None if the receiver answered 2xx in time; otherwise what went wrong (a status code
        or an error type: never the response's content)."""
        url = httpx.URL(target.url)
        default_port = 443 if url.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and target.port != default_port:  # an IPv6 literal
            host_header = f"[{target.host}]:{target.port}"
        request = self._client.build_request(
            "POST",
            url.copy_with(host=target.address),
            content=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json"},
            extensions={"sni_hostname": target.host} if url.scheme == "https" else {},
        )
        try:
            async with asyncio.timeout(self.total_seconds):
                response = await self._client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= self._max_response_bytes:
                            break  # the status is all we need; the rest is not read
                finally:
                    await response.aclose()
        except TimeoutError:
            return "deadline exceeded"
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.is_redirect:
            return f"HTTP {response.status_code} (redirects are not followed)"
        return None if response.is_success else f"HTTP {response.status_code}"

    async def close(self) -> None:
        await self._client.aclose()
