"""Test-side AMQP peers: a hotline platform publishing intake, a department reading its queue.

No sleeps: everything waits on a condition with a deadline."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

from config.settings import Settings
from consumers.topology import Names
from router.messages import Exchange


@dataclass
class Received:
    routing_key: str
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


class Peer:
    """One connection playing the outside world (platforms, departments, agents)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = Names(settings.amqp_prefix)
        self.connection: AbstractConnection | None = None
        self.channel: AbstractChannel | None = None

    async def __aenter__(self) -> Peer:
        self.connection = await aio_pika.connect(self.settings.amqp_url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.connection is not None
        await self.connection.close()

    async def publish(
        self,
        exchange: Exchange,
        routing_key: str,
        body: bytes | dict[str, Any],
        *,
        message_id: str | None = None,
    ) -> str:
        assert self.channel is not None
        ex = await self.channel.get_exchange(self.names.exchange(exchange))
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        mid = message_id or uuid.uuid4().hex
        await ex.publish(
            aio_pika.Message(
                data,
                content_type="application/json",
                message_id=mid,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )
        return mid

    async def intake(self, body: bytes | dict[str, Any], routing_key: str | None = None) -> str:
        if routing_key is None:
            assert isinstance(body, dict)
            routing_key = f"ticket.{body['hotline']}"
        return await self.publish(Exchange.INTAKE, routing_key, body)

    async def feedback(self, routing_key: str, body: dict[str, Any], message_id: str | None = None) -> str:
        return await self.publish(Exchange.FEEDBACK, routing_key, body, message_id=message_id)

    async def drain(
        self, queue: str, *, expect: int | None = None, timeout: float = 20.0, quiet: float = 0.5
    ) -> list[Received]:
        """Take messages from ``queue`` (acking them) until ``expect`` arrived, or until the queue stayed
        quiet for ``quiet`` seconds after the last one (when ``expect`` is None), or ``timeout``."""
        assert self.connection is not None
        channel = await self.connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        try:
            while time.monotonic() < deadline:
                msg = await q.get(no_ack=False, fail=False)
                if msg is None:
                    if expect is None and got and time.monotonic() - last > quiet:
                        break
                    if expect is not None and len(got) >= expect:
                        break
                    await asyncio.sleep(0.02)
                    continue
                await msg.ack()
                last = time.monotonic()
                got.append(
                    Received(
                        msg.routing_key or "",
                        msg.message_id,
                        msg.correlation_id,
                        dict(msg.headers or {}),
                        msg.body,
                    )
                )
                if expect is not None and len(got) >= expect:
                    break
        finally:
            await channel.close()
        return got

    async def drain_all(self, queues: list[str], *, expect: int, timeout: float = 30.0) -> list[Received]:
        """Take every message from ``queues`` until ``expect`` distinct messages arrived (or ``timeout``).

        Distinct by ``message_id``: a re-publish after a crash repeats its id, and counting it would stop
        the wait while a message still on its way is missing. Every message read is returned, repeats
        included, so callers still see (and can assert on) duplicates. Only the queues that hold
        messages are read, so hundreds of department queues cost one check each."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for q in queues:
                depth = await self.queue_depth(q)
                if depth:
                    got += await self.drain(q, expect=depth, timeout=max(0.1, deadline - time.monotonic()))
            distinct = {m.message_id for m in got if m.message_id is not None}
            if len(distinct) + sum(m.message_id is None for m in got) >= expect:
                break
            await asyncio.sleep(0.05)
        return got

    async def queue_depth(self, queue: str) -> int:
        assert self.connection is not None
        channel = await self.connection.channel()
        try:
            q = await channel.declare_queue(queue, passive=True)
            return int(q.declaration_result.message_count or 0)
        finally:
            await channel.close()


async def wait_until(
    predicate: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
