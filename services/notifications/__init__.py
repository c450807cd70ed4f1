"""Notifications: signed webhooks and an inbox for providers and employer brokerages."""
