"""RabbitMQ topology (DESIGN §4), declared idempotently at start-up.

Durable topic exchanges; durable quorum queues with a dead-letter exchange and an explicit
``x-delivery-limit``; one queue per department from the directory, so that a dispatch is kept while the
department is offline. Every name may carry a prefix (``AMQP_PREFIX``) so that tests and side-by-side
installations never share queues.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue

from router.messages import Exchange
from schemas.v1.vocab import Hotline

EVENT_QUEUES: dict[str, tuple[str, ...]] = {
    # consumers of router events; together they bind every event key, so a mandatory publish never bounces
    "agent.callback": ("callback.due",),
    "agent.triage": ("triage.needed",),
    "supervisor.events": ("sla.#", "ticket.#"),
}
MAX_EVENT_BACKLOG = 100_000


@dataclass(frozen=True, slots=True)
class Names:
    prefix: str = ""

    def exchange(self, exchange: Exchange) -> str:
        return f"{self.prefix}{exchange.value}"

    def queue(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def intake_queue(self, hotline: Hotline | str) -> str:
        return self.queue(f"router.intake.{Hotline(hotline).value}")

    @property
    def intake_unrouted(self) -> str:
        return self.queue("router.intake.unrouted")

    @property
    def feedback_queue(self) -> str:
        return self.queue("router.feedback")

    @property
    def dead_queue(self) -> str:
        return self.queue("router.dead")

    def department_queue(self, code: str) -> str:
        return self.queue(f"dept.{code}")

    def transfer_queue(self, hotline: Hotline | str) -> str:
        return self.queue(f"hotline.transfer.{Hotline(hotline).value}")


@dataclass
class Topology:
    names: Names
    exchanges: dict[Exchange, AbstractExchange] = field(default_factory=dict)
    queues: dict[str, AbstractQueue] = field(default_factory=dict)


def queue_names(names: Names, departments: Iterable[str]) -> list[str]:
    """Every queue the router declares (for purging and operations scripts)."""
    queues = [names.intake_queue(h) for h in Hotline] + [names.transfer_queue(h) for h in Hotline]
    queues += [names.intake_unrouted, names.feedback_queue, names.dead_queue]
    queues += [names.queue(q) for q in EVENT_QUEUES]
    return queues + [names.department_queue(c) for c in departments]


async def purge_queues(connection: AbstractConnection, queues: Iterable[str]) -> int:
    """Empty the queues that exist (one that was never declared is skipped); returns messages purged."""
    purged = 0
    channel = await connection.channel()
    try:
        for name in queues:
            try:
                queue = await channel.declare_queue(name, passive=True)
                result = await queue.purge()
                purged += int(getattr(result, "message_count", 0) or 0)
            except aio_pika.exceptions.ChannelClosed:  # not declared: the channel is closed by the broker
                channel = await connection.channel()
    finally:
        if not channel.is_closed:
            await channel.close()
    return purged


def quorum_arguments(names: Names, delivery_limit: int, **extra: Any) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.exchange(Exchange.DLX),
        "x-delivery-limit": delivery_limit,
        **extra,
    }


async def declare_topology(
    channel: AbstractChannel,
    names: Names,
    *,
    departments: Iterable[str],
    delivery_limit: int,
) -> Topology:
    topo = Topology(names)
    unrouted = await channel.declare_exchange(
        names.exchange(Exchange.INTAKE) + ".unrouted", aio_pika.ExchangeType.FANOUT, durable=True
    )
    for ex in Exchange:
        arguments: dict[str, Any] | None = (
            {"alternate-exchange": unrouted.name} if ex is Exchange.INTAKE else None
        )
        topo.exchanges[ex] = await channel.declare_exchange(
            names.exchange(ex), aio_pika.ExchangeType.TOPIC, durable=True, arguments=arguments
        )

    async def queue(name: str, exchange: AbstractExchange, keys: Iterable[str], **extra: Any) -> None:
        q = await channel.declare_queue(
            name, durable=True, arguments=quorum_arguments(names, delivery_limit, **extra)
        )
        for key in keys:
            await q.bind(exchange, routing_key=key)
        topo.queues[name] = q

    # the dead-letter queue itself has no DLX (nothing may loop)
    dead = await channel.declare_queue(names.dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(topo.exchanges[Exchange.DLX], routing_key="#")
    topo.queues[names.dead_queue] = dead

    for hotline in Hotline:
        await queue(names.intake_queue(hotline), topo.exchanges[Exchange.INTAKE], [f"ticket.{hotline.value}"])
        await queue(
            names.transfer_queue(hotline), topo.exchanges[Exchange.DISPATCH], [f"transfer.{hotline.value}"]
        )
    await queue(names.intake_unrouted, unrouted, ["#"])
    await queue(names.feedback_queue, topo.exchanges[Exchange.FEEDBACK], ["#"])
    for code in departments:
        await queue(names.department_queue(code), topo.exchanges[Exchange.DISPATCH], [f"dept.{code}"])
    for qname, keys in EVENT_QUEUES.items():
        await queue(
            names.queue(qname),
            topo.exchanges[Exchange.EVENTS],
            keys,
            **{"x-max-length": MAX_EVENT_BACKLOG, "x-overflow": "drop-head"},
        )
    return topo
