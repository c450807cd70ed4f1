"""A thin client of the platform's external contract, as an outside system would use it.

HTTP calls with bearer tokens, a JCP feed that publishes claimant events, and a webhook
receiver that verifies signatures. The demo (`make run`), the end-to-end tests and the
benchmarks all drive the platform through it, and only through the contract.
"""

from brokerage_client.api import Api, Platform
from brokerage_client.jcp_feed import JcpFeed
from brokerage_client.webhooks import WebhookReceiver

__all__ = ["Api", "JcpFeed", "Platform", "WebhookReceiver"]
