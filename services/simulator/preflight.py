"""Before publishing: is the broker there, and are the interaction topics?

Without this a run against a wrong address or an unprovisioned cluster would
stall for the producer's full request timeout and end in an opaque error.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from libs.common.broker_probe import wait_for_broker
from libs.common.kafka import create_admin
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames


class TopicsMissingError(RuntimeError):
    pass


def missing_topics(existing: Collection[str], names: TopicNames) -> list[str]:
    """The `interactions.<channel>` topics not among `existing`."""
    wanted = [names.interactions(channel) for channel in CHANNELS]
    return [topic for topic in wanted if topic not in existing]


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    # The probe's failed attempts are expected while it waits; aiokafka logs
    # each as an ERROR, burying the one line that says what is wrong.
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def check_ready(settings: CommonSettings, timeout_seconds: float) -> None:
    """Raise BrokerUnreachableError or TopicsMissingError with a one-line reason."""
    with _quiet("aiokafka"):
        await wait_for_broker(settings, timeout_seconds)
    admin = create_admin(settings, client_id="concierge-simulator-preflight")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    missing = missing_topics(existing, TopicNames(prefix=settings.topic_prefix))
    if missing:
        raise TopicsMissingError(
            f"topic(s) {', '.join(missing)} missing at {settings.kafka_bootstrap_servers}; "
            "create them with `concierge provision`"
        )
