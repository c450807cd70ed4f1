"""The small runtime every service shares: settings, logging, Kafka wiring, the outbox relay,
idempotent consumption with dead letters, bearer-token auth and the HTTP scaffolding.

Each module has one job and knows nothing of any service's domain.
"""
