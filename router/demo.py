"""``hotline-router demo``: the whole loop on one machine.

Simulated hotline platforms publish realistic 12328/12345 work orders; simulated departments sign,
reply, sometimes return or ask for an extension; simulated agents make callbacks and triage decisions.
It prints what is routed where and live KPIs until Ctrl-C (or ``--duration``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from pymongo import AsyncMongoClient

from config.directory import load_directory
from config.settings import Settings
from consumers.topology import Names, purge_queues, queue_names
from router.messages import Exchange
from router.serve import running, stop_on_signals
from router.service import Service
from router.simulation import TicketSimulator
from schemas.v1.vocab import Hotline


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DemoWorld:
    """The simulated outside world, on its own AMQP connection."""

    def __init__(self, settings: Settings, service: Service, seed: int = 2026) -> None:
        self.settings = settings
        self.service = service
        self.names = Names(settings.amqp_prefix)
        self.rng = random.Random(seed)
        self.seen: Counter[str] = Counter()
        self.routed: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._channel: AbstractChannel | None = None
        self._feedback: AbstractExchange | None = None

    async def start(self, connection: aio_pika.abc.AbstractConnection) -> None:
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=50)
        self._feedback = await self._channel.get_exchange(self.names.exchange(Exchange.FEEDBACK))
        for code in self.service.domain.directory.codes():
            q = await self._channel.get_queue(self.names.department_queue(code), ensure=False)
            await q.consume(self._on_dispatch)
        for hotline in Hotline:
            q = await self._channel.get_queue(self.names.transfer_queue(hotline), ensure=False)
            await q.consume(self._on_transfer)
        await (await self._channel.get_queue(self.names.queue("agent.callback"), ensure=False)).consume(
            self._on_callback_due
        )
        await (await self._channel.get_queue(self.names.queue("agent.triage"), ensure=False)).consume(
            self._on_triage_needed
        )

    def _later(self, delay: float, key: str, body: dict[str, Any]) -> None:
        async def go() -> None:
            await asyncio.sleep(delay)
            assert self._feedback is not None
            await self._feedback.publish(
                aio_pika.Message(
                    json.dumps(body, ensure_ascii=False).encode(),
                    content_type="application/json",
                    message_id=uuid.uuid4().hex,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=key,
            )

        task = asyncio.create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_dispatch(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            dept, tid = body["department"], body["ticket_id"]
            self.seen[f"dispatch:{body['kind']}"] += 1
            self.routed.append(
                f"{body['hotline']} {body['external_id']} → {dept} "
                f"[{body['domain']}{'/' + body['transport'] if body['transport'] else ''}] "
                f"{body['content'][:28]}…"
            )
            roll = self.rng.random()
            base = {"ticket_id": tid, "department": dept}
            if roll < 0.05 and body["attempt"] == 1:
                self._later(
                    0.5,
                    f"dept.{dept}.returned",
                    {**base, "at": _now(), "reason_code": "职能不符", "reason": "不属于本单位职责"},
                )
                return
            self._later(0.3, f"dept.{dept}.signed", {**base, "at": _now()})
            if roll < 0.08:
                self._later(
                    0.6, f"dept.{dept}.extension", {**base, "at": _now(), "days": 3, "reason": "需现场核查"}
                )
            self._later(
                self.rng.uniform(1.0, 3.0),
                f"dept.{dept}.replied",
                {
                    **base,
                    "at": _now(),
                    "result": "已联系来电人并核实处理，详见答复。",
                    "resolved": roll > 0.2,
                },
            )

    async def _on_transfer(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            self.seen[f"transfer:{body['to']}"] += 1
            self.routed.append(
                f"{body['hotline']} {body['external_id']} ⇒ 转 {body['to']}：{body['reason'][:30]}"
            )

    async def _on_callback_due(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            self.seen["callback.due"] += 1
            roll = self.rng.random()
            result: dict[str, Any] = {"ticket_id": body["ticket_id"], "at": _now(), "agent": "demo-agent"}
            if roll < 0.85:
                sat = self.rng.choices(["满意", "基本满意", "不满意"], [70, 20, 10])[0]
                result.update(outcome="reached", satisfaction=sat)
            else:
                result.update(outcome="no_answer")
            self._later(0.5, "agent.callback", result)

    async def _on_triage_needed(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            self.seen["triage.needed"] += 1
            centre = "sd-12328" if body["hotline"] == "12328" else "sd-12345"
            self._later(
                1.0,
                "agent.triage",
                {"ticket_id": body["ticket_id"], "at": _now(), "agent": "demo-agent", "department": centre},
            )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._channel is not None:
            await self._channel.close()


async def _publish_stream(
    settings: Settings,
    connection: aio_pika.abc.AbstractConnection,
    rate: float,
    stop: asyncio.Event,
    counter: Counter[str],
) -> None:
    names = Names(settings.amqp_prefix)
    channel = await connection.channel(publisher_confirms=True)
    intake = await channel.get_exchange(names.exchange(Exchange.INTAKE))
    sim = TicketSimulator(seed=int(time.time()), run_id=datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        s = sim.next(datetime.now(UTC))
        await intake.publish(
            aio_pika.Message(
                json.dumps(s.body, ensure_ascii=False).encode(),
                content_type="application/json",
                message_id=uuid.uuid4().hex,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=s.routing_key,
        )
        counter["published"] += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    await channel.close()


async def _reset_demo(settings: Settings, mongo_url: str) -> None:
    """Each demo starts from nothing: its database dropped, the queues of its topology emptied."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        await client.drop_database(DEMO_DB)
    finally:
        await client.close()
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        codes = load_directory(settings.config_dir).codes()
        await purge_queues(connection, queue_names(Names(settings.amqp_prefix), codes))
    finally:
        await connection.close()


async def _kpis(service: Service, since: datetime) -> dict[str, int]:
    """Tickets of this demo run by state (the embedded database keeps earlier runs)."""
    assert service.components is not None
    rows = await service.components.storage.tickets.aggregate(
        [{"$match": {"created_at": {"$gte": since}}}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}]
    )
    return {r["_id"]: r["n"] async for r in rows}


DEMO_DB = "hotline_demo"


async def run_demo(settings: Settings, *, rate: float = 20.0, duration_s: float | None = None) -> None:
    """Runs on its own database (``hotline_demo``, emptied at start), never on ``MONGO_DB``."""
    settings = settings.model_copy(update={"mongo_db": DEMO_DB})
    stop = stop_on_signals()
    async with running(settings, before_start=functools.partial(_reset_demo, settings)) as (
        service,
        base_url,
    ):
        connection = await aio_pika.connect_robust(
            settings.amqp_url, client_properties={"connection_name": "hotline-router:demo"}
        )
        world = DemoWorld(settings, service)
        await world.start(connection)
        published: Counter[str] = Counter()
        producer = asyncio.create_task(_publish_stream(settings, connection, rate, stop, published))
        print(f"hotline-router demo — {rate:g} simulated tickets/s from 12328 and 12345")
        print(f"  health  {base_url}/healthz   ready {base_url}/readyz   metrics {base_url}/metrics")
        print("  Ctrl-C to stop\n")
        started = time.monotonic()
        since = datetime.now(UTC)
        shown = 0
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)
                for line in world.routed[shown : shown + 8]:
                    print("  " + line)
                shown = len(world.routed)
                elapsed = time.monotonic() - started
                states = await _kpis(service, since)
                total = sum(states.values())
                print(
                    f"[{elapsed:6.0f}s] published {published['published']}, stored {total} "
                    f"({total / elapsed:.1f}/s) | "
                    + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
                    + f" | dispatches {sum(v for k, v in world.seen.items() if k.startswith('dispatch:'))}"
                    f", callbacks due {world.seen['callback.due']}"
                )
                if duration_s is not None and elapsed >= duration_s:
                    stop.set()
        finally:
            stop.set()
            await producer
            await world.close()
            await connection.close()
        print("demo stopped")
