"""Nothing lost, nothing done twice: crashes, restarts, redelivery and a database outage."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from config.settings import Settings
from router.clock import ManualClock
from router.domain import Domain
from router.embedded import EmbeddedMongo, free_port
from router.messages import InboundMessage, OutboundMessage
from router.outbox import OutboxRelay
from router.service import Service
from router.simulation import TicketSimulator
from tests.integration.amqp_helpers import Peer, wait_until


class CrashingPublisher:
    """Stands for a process that dies right after the database write: nothing reaches the broker."""

    async def publish(self, messages: list[OutboundMessage]) -> None:
        raise ConnectionError("process died before publishing")


def sims(n: int, run: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (s.routing_key, s.body) for s in TicketSimulator(seed=11, run_id=run).stream(n, datetime.now(UTC))
    ]


async def test_crash_between_write_and_publish_republishes_with_same_message_id(
    service: Service, peer: Peer, settings: Settings
) -> None:
    import json

    assert service.components is not None
    intake = service.components.intake
    real_publisher = intake._publisher
    intake._publisher = CrashingPublisher()  # the "crash": the write happens, the publish never does
    body = {
        "hotline": "12345",
        "external_id": "C-1",
        "received_at": datetime.now(UTC).isoformat(),
        "content": "市民反映鲁A12345出租车司机拒载并辱骂乘客，要求处理",
        "address": "济南市历下区",
    }
    outcomes = await intake.handle(
        [InboundMessage(json.dumps(body, ensure_ascii=False).encode(), "ticket.12345")]
    )
    assert outcomes[0].verdict.value == "ack"
    intake._publisher = real_publisher
    doc = await service.components.storage.tickets.find_one({"external_id": "C-1"})
    assert doc is not None and doc["state"] == "dispatched"
    queue = peer.names.department_queue(doc["department"])
    assert await peer.drain(queue, timeout=0.5, quiet=0.2) == []  # nothing went out

    # the redelivered intake message is a duplicate; the relay (after its grace) re-publishes
    again = await intake.handle(
        [InboundMessage(json.dumps(body, ensure_ascii=False).encode(), "ticket.12345")]
    )
    assert again[0].reason == "duplicate"
    clock = ManualClock(datetime.now(UTC) + timedelta(minutes=1))
    relay = OutboxRelay(
        storage=service.components.storage,
        publisher=real_publisher,
        clock=clock,
        metrics=service.metrics,
        owner="test-relay",
        grace=timedelta(seconds=10),
    )
    assert await relay.run_once() == 1
    assert await relay.run_once() == 0, "a batch is re-published once, then marked sent"
    got = await peer.drain(queue, expect=1, timeout=10)
    assert len(got) == 1 and got[0].message_id == f"{doc['_id']}.dispatch.1"


async def test_restart_mid_stream_loses_nothing(settings: Settings, domain: Domain, peer: Peer) -> None:
    assert settings.mongo_url is not None
    stream = sims(300, "restart")
    first = Service(settings, mongo_url=settings.mongo_url, domain=domain)
    await first.start()
    for key, body in stream:
        await peer.intake(body, key)
    await wait_until(lambda: _ge(first, 50), timeout=60, what="some tickets processed")
    await first.stop()  # SIGTERM path: stop consuming, finish in-flight, close

    second = Service(settings, mongo_url=settings.mongo_url, domain=domain)
    await second.start()
    try:
        await wait_until(lambda: _count(second, 300), timeout=90, what="all 300 tickets stored")
        assert second.components is not None
        docs = [d async for d in second.components.storage.tickets.find({}, {"state": 1, "department": 1})]
        dispatched = Counter(d["department"] for d in docs if d["state"] == "dispatched")
        got = await peer.drain_all(
            [peer.names.department_queue(c) for c in domain.directory.codes()],
            expect=sum(dispatched.values()),
        )
        ids = Counter(m.message_id for m in got)
        assert sum(dispatched.values()) == len(ids), "every dispatched ticket reached its department"
        assert Counter(m.routing_key.removeprefix("dept.") for m in got if ids[m.message_id]) >= dispatched
        assert await peer.queue_depth(peer.names.intake_queue("12345")) == 0
        assert await peer.queue_depth(peer.names.dead_queue) == 0
    finally:
        await second.stop()


async def test_abrupt_connection_loss_redelivers_without_double_effect(
    settings: Settings, domain: Domain, peer: Peer
) -> None:
    assert settings.mongo_url is not None
    stream = sims(200, "abrupt")
    svc = Service(settings, mongo_url=settings.mongo_url, domain=domain)
    await svc.start()
    for key, body in stream:
        await peer.intake(body, key)
    await wait_until(lambda: _ge(svc, 20), timeout=60, what="some tickets processed")
    # a crash: in-flight work is abandoned, deliveries unacked (no graceful stop)
    await svc.abort()
    again = Service(settings, mongo_url=settings.mongo_url, domain=domain)
    await again.start()
    try:
        await wait_until(lambda: _count(again, 200), timeout=90, what="all 200 tickets stored")
        assert again.components is not None
        n_dispatched = await again.components.storage.tickets.count_documents({"state": "dispatched"})
        got = await peer.drain_all(
            [peer.names.department_queue(c) for c in domain.directory.codes()], expect=n_dispatched
        )
        assert len({m.message_id for m in got}) == n_dispatched, "duplicates only ever share a message_id"
    finally:
        await again.stop()


async def test_database_outage_is_retried_not_acked(
    settings: Settings, domain: Domain, peer: Peer, tmp_path: object
) -> None:
    from pathlib import Path

    db = EmbeddedMongo(Path(str(tmp_path)) / "outage", port=free_port())
    db.start()
    svc = Service(settings, mongo_url=db.url, domain=domain)
    await svc.start()
    try:
        db.kill()
        body = {
            "hotline": "12345",
            "external_id": "DB-1",
            "received_at": datetime.now(UTC).isoformat(),
            "content": "市民反映历下区泉城路路灯不亮，要求维修",
            "address": "济南市历下区",
        }
        await peer.intake(body)
        await wait_until(lambda: _retried(svc), timeout=60, what="the consumer retrying with back-off")
        assert await peer.queue_depth(peer.names.dead_queue) == 0, "a transient fault is never dead-lettered"
        db.start()
        await wait_until(lambda: _count(svc, 1), timeout=60, what="the ticket stored after the outage")
    finally:
        await svc.stop()
        db.stop()


async def _count(service: Service, n: int) -> bool:
    assert service.components is not None
    return await service.components.storage.tickets.count_documents({}) == n


async def _retried(service: Service) -> bool:
    return service.transient_retries > 0


async def _ge(service: Service, n: int) -> bool:
    return service.processed >= n
