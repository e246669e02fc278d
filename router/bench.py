"""``hotline-router bench``: end-to-end throughput and latency of the pipeline against a bare floor.

Both run in one invocation on the same broker and database, each with its own queues and database:

* **pipeline** — the real service (consumers role): N synthetic 12328/12345 tickets are published to
  ``hotline.intake``; throughput is N over the time from the first publish to the last routed output
  (dispatch, transfer or triage event) received; latency is per ticket, publish → output.
* **floor** — a bare aio-pika consumer that, per message, does one MongoDB ``insert_one`` and one
  confirmed publish, then acks; no validation, no classification.

The last line is ``pipeline <x> tickets/s, floor <y> tickets/s, ratio <x/y>``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pymongo import AsyncMongoClient

from config.settings import Settings
from consumers.topology import Names, purge_queues, queue_names
from router.domain import Domain, build_domain
from router.embedded import mongo_url_or_embedded
from router.messages import Exchange
from router.service import Role, Service
from router.simulation import TicketSimulator
from schemas.v1.vocab import Hotline

#: the default names, purged before and after each run: a development broker holds one topology (~207
#: quorum queues), shared with `make run` and the tests (see README, "RabbitMQ and quorum queues")
BENCH_PREFIX = ""


@dataclass
class RunResult:
    n: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _publish_all(
    channel: aio_pika.abc.AbstractChannel,
    exchange_name: str,
    items: list[tuple[str, bytes, str]],
    sent_at: dict[str, float],
    window: int = 500,
) -> None:
    exchange = await channel.get_exchange(exchange_name)

    async def one(key: str, body: bytes, mid: str) -> None:
        sent_at[mid] = time.monotonic()
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                message_id=mid,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=key,
        )

    for i in range(0, len(items), window):
        await asyncio.gather(*(one(*item) for item in items[i : i + window]))


async def run_pipeline(settings: Settings, mongo_url: str, domain: Domain, n: int) -> RunResult:
    names = Names(settings.amqp_prefix)
    service = Service(settings, mongo_url=mongo_url, role=Role.CONSUMERS, domain=domain)
    await service.start()
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        sims = TicketSimulator(seed=9, run_id=uuid.uuid4().hex[:8]).stream(n, datetime.now(UTC))
        items = [
            (s.routing_key, json.dumps(s.body, ensure_ascii=False).encode(), s.body["external_id"])
            for s in sims
        ]
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()
        last = [0.0]

        async def on_output(message: AbstractIncomingMessage) -> None:
            await message.ack()
            external_id = json.loads(message.body).get("external_id")
            t = time.monotonic()
            if external_id in sent_at:
                latencies.append((t - sent_at[external_id]) * 1000)
                last[0] = t
            if len(latencies) >= n:
                done.set()

        out = await connection.channel()
        await out.set_qos(prefetch_count=1000)
        outputs = [names.department_queue(c) for c in domain.directory.codes()]
        outputs += [names.transfer_queue(h) for h in Hotline] + [names.queue("agent.triage")]
        for q in outputs:
            await (await out.get_queue(q, ensure=False)).consume(on_output)
        pub = await connection.channel(publisher_confirms=True)
        started = time.monotonic()
        await _publish_all(pub, names.exchange(Exchange.INTAKE), items, sent_at)
        await asyncio.wait_for(done.wait(), timeout=max(120.0, n / 50))
        return RunResult(n, last[0] - started, latencies)
    finally:
        await connection.close()
        await service.stop()


async def run_floor(settings: Settings, mongo_url: str, n: int) -> RunResult:
    prefix = f"{settings.amqp_prefix}bench.floor."
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    collection = client[settings.mongo_db]["floor"]
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        ch = await connection.channel(publisher_confirms=True)
        await ch.set_qos(prefetch_count=settings.prefetch)
        ex_in = await ch.declare_exchange(f"{prefix}in", aio_pika.ExchangeType.TOPIC, auto_delete=True)
        ex_out = await ch.declare_exchange(f"{prefix}out", aio_pika.ExchangeType.TOPIC, auto_delete=True)
        q_in = await ch.declare_queue(f"{prefix}in", durable=True, arguments={"x-queue-type": "quorum"})
        q_out = await ch.declare_queue(f"{prefix}out", durable=True, arguments={"x-queue-type": "quorum"})
        await q_in.bind(ex_in, "#")
        await q_out.bind(ex_out, "#")

        async def bare(message: AbstractIncomingMessage) -> None:
            body = json.loads(message.body)
            await collection.insert_one({"_id": body["external_id"], "body": body})
            await ex_out.publish(
                aio_pika.Message(
                    message.body,
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="out",
                mandatory=True,
            )
            await message.ack()

        await q_in.consume(bare)
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()
        last = [0.0]
        out_ch = await connection.channel()
        await out_ch.set_qos(prefetch_count=1000)
        q_read = await out_ch.get_queue(f"{prefix}out", ensure=False)

        async def on_output(message: AbstractIncomingMessage) -> None:
            await message.ack()
            t = time.monotonic()
            if message.message_id in sent_at:
                latencies.append((t - sent_at[message.message_id]) * 1000)
                last[0] = t
            if len(latencies) >= n:
                done.set()

        await q_read.consume(on_output)
        sims = TicketSimulator(seed=9, run_id=uuid.uuid4().hex[:8]).stream(n, datetime.now(UTC))
        items = [
            (s.routing_key, json.dumps(s.body, ensure_ascii=False).encode(), s.body["external_id"])
            for s in sims
        ]
        pub = await connection.channel(publisher_confirms=True)
        started = time.monotonic()
        await _publish_all(pub, f"{prefix}in", items, sent_at)
        await asyncio.wait_for(done.wait(), timeout=max(120.0, n / 20))
        result = RunResult(n, last[0] - started, latencies)
        await q_in.purge()
        await q_out.purge()
        return result
    finally:
        await connection.close()
        await client.close()


def classify_rate(domain: Domain, n: int = 5000) -> float:
    from router.tickets import ticket_text
    from schemas.v1.intake import INTAKE_ADAPTER

    sims = TicketSimulator(seed=3).stream(n, datetime.now(UTC))
    texts = [ticket_text(INTAKE_ADAPTER.validate_python(s.body)) for s in sims]
    domain.classifier.classify_many(texts[:200])  # warm-up
    started = time.perf_counter()
    for i in range(0, n, 200):
        domain.classifier.classify_many(texts[i : i + 200])
    return n / (time.perf_counter() - started)


async def bench(base: Settings, *, n: int, runs: int) -> str:
    domain = build_domain(base.config_dir, tz_name=base.tz_name)
    lines: list[str] = []
    crate = classify_rate(domain)
    print(f"classification: {crate:,.0f} tickets/s (one core, batches of 200)", flush=True)
    async with mongo_url_or_embedded(base.mongo_url, base.data_dir / "bench") as mongo_url:
        pipes, floors = [], []
        for i in range(runs):
            # one fixed prefix: the ~215 quorum queues are declared once and purged between runs
            settings = base.model_copy(
                update={"amqp_prefix": BENCH_PREFIX, "mongo_db": f"bench_{uuid.uuid4().hex[:8]}"}
            )
            await _purge(settings, domain)
            floor = await run_floor(settings, mongo_url, n)
            pipe = await run_pipeline(settings, mongo_url, domain, n)
            await _purge(settings, domain)
            await _drop_db(settings, mongo_url)
            pipes.append(pipe)
            floors.append(floor)
            line = (
                f"run {i + 1}: pipeline {pipe.rate:,.0f}/s p50 {pipe.pct(50):.0f} ms"
                f" p99 {pipe.pct(99):.0f} ms"
                f" | floor {floor.rate:,.0f}/s p50 {floor.pct(50):.0f} ms p99 {floor.pct(99):.0f} ms"
                f" | ratio {pipe.rate / floor.rate:.2f}"
            )
            print(line, flush=True)
            lines.append(line)
        x = statistics.median(p.rate for p in pipes)
        y = statistics.median(f.rate for f in floors)
        return f"pipeline {x:.0f} tickets/s, floor {y:.0f} tickets/s, ratio {x / y:.2f}"


async def _purge(settings: Settings, domain: Domain) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        await purge_queues(connection, queue_names(Names(settings.amqp_prefix), domain.directory.codes()))
    finally:
        await connection.close()


async def _drop_db(settings: Settings, mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    await client.drop_database(settings.mongo_db)
    await client.close()
