"""Create every topic of the contract and its `.dlq` twin, with explicit partition counts.

`python -m runtime.topic_admin` is idempotent: existing topics are left as they are (a wrong
partition count is reported, never "fixed": changing it would reshuffle keys across partitions).
Brokers run with topic auto-creation off, so a typo in a topic name fails loudly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from runtime.kafka_connection import KafkaConnection, kafka_from_env
from schemas.topics import TOPICS


def desired_topics(replication: int) -> list[NewTopic]:
    topics = []
    for topic in TOPICS:
        for name in (topic.name, topic.dlq):
            topics.append(
                NewTopic(name=name, num_partitions=topic.partitions, replication_factor=replication)
            )
    return topics


async def ensure_topics(connection: KafkaConnection, replication: int = 1) -> list[str]:
    """Create the missing topics; returns the names it created."""
    admin = AIOKafkaAdminClient(**connection.options(), client_id="topic-bootstrap")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in desired_topics(replication) if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
        wanted = {t.name: t.num_partitions for t in desired_topics(replication)}
        described = await admin.describe_topics(sorted(wanted))
        for info in described:
            have = len(info.get("partitions", []))
            if have and have != wanted[info["topic"]]:
                print(
                    f"warning: {info['topic']} has {have} partitions, the contract's "
                    f"registry says {wanted[info['topic']]}",
                    file=sys.stderr,
                )
        return [t.name for t in missing]
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="The connection comes from KAFKA_BOOTSTRAP_SERVERS and the other KAFKA_* settings "
        "(runtime/kafka_connection.py), as the services read them.",
    )
    parser.add_argument("--bootstrap-servers", default=None)
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1")),
    )
    args = parser.parse_args()
    kafka = kafka_from_env(args.bootstrap_servers)
    created = asyncio.run(ensure_topics(kafka, args.replication_factor))
    total = len(desired_topics(args.replication_factor))
    print(f"topics: {len(created)} created, {total - len(created)} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
