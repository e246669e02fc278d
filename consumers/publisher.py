"""Publishing with publisher confirms awaited, persistent, mandatory (DESIGN §4)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange

from consumers.topology import Topology
from router.messages import Exchange, OutboundMessage


def to_amqp(message: OutboundMessage, now: datetime | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body=message.body,
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.ticket_id,
        timestamp=now or datetime.now(UTC),
        headers=message.headers or None,
        app_id="hotline-router",
    )


class AmqpPublisher:
    """Publishes a list of messages concurrently and returns when the broker confirmed all of them.

    The channel must be opened with ``publisher_confirms=True`` and ``on_return_raises=True`` so that
    an unroutable message (``mandatory``) raises instead of vanishing.
    """

    def __init__(self, topology: Topology, *, timeout_s: float = 30.0) -> None:
        self._exchanges: dict[Exchange, AbstractExchange] = topology.exchanges
        self._timeout = timeout_s
        self.published = 0
        self.last_publish_monotonic = 0.0

    async def publish(self, messages: list[OutboundMessage]) -> None:
        if not messages:
            return
        await asyncio.gather(
            *(
                self._exchanges[m.exchange].publish(
                    to_amqp(m), routing_key=m.routing_key, mandatory=True, timeout=self._timeout
                )
                for m in messages
            )
        )
        self.published += len(messages)
        self.last_publish_monotonic = time.monotonic()
