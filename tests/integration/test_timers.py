"""Durable timers against the real database and broker: three schedulers, each step fired once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from config.settings import Settings
from router.clock import ManualClock
from router.domain import Domain
from router.scheduler import TimerScheduler
from router.service import Role, Service
from tests.integration.amqp_helpers import Peer
from tests.unit.factories import dispatched

N_TICKETS = 40


@pytest.fixture
async def service(settings: Settings, domain: Domain) -> AsyncIterator[Service]:
    """Consumers only: no background scheduler, so the test's own schedulers are the only replicas."""
    assert settings.mongo_url is not None
    svc = Service(settings, mongo_url=settings.mongo_url, domain=domain, role=Role.CONSUMERS)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


STEPS = ["sign.warning", "sign.breach", "reply.warning", "reply.breach", "reply.circular"]
EVENTS_PER_TICKET = 6  # the reply breach also urges (催办)


async def seed(service: Service) -> ManualClock:
    assert service.components is not None
    storage = service.components.storage
    plans = [dispatched("jinan-taxi", external_id=f"TM-{i}") for i in range(N_TICKETS)]
    await storage.insert_tickets([p.doc for p in plans])
    await storage.add_timers([t for p in plans for t in p.timers])
    last_due = max(s["due"] for p in plans for t in p.timers for s in t["steps"])
    return ManualClock(last_due + timedelta(minutes=1))


def scheduler(service: Service, clock: ManualClock, owner: str) -> TimerScheduler:
    assert service.components is not None
    return TimerScheduler(
        storage=service.components.storage,
        publisher=service.components.publisher,
        clock=clock,
        metrics=service.metrics,
        owner=owner,
        call_time=service.domain.call_time,
        window=lambda t: "09:00-20:00",
    )


async def test_three_schedulers_fire_every_step_exactly_once(service: Service, peer: Peer) -> None:
    clock = await seed(service)
    schedulers = [scheduler(service, clock, f"replica-{i}") for i in range(3)]
    counts = await asyncio.gather(*(s.run_once() for s in schedulers))
    assert sum(counts) == N_TICKETS, counts
    assert all(c > 0 for c in counts) or N_TICKETS < 3, "work was shared"

    events = await peer.drain(
        peer.names.queue("supervisor.events"), expect=N_TICKETS * EVENTS_PER_TICKET, timeout=30
    )
    ids = Counter(e.message_id for e in events)
    assert len(events) == N_TICKETS * EVENTS_PER_TICKET and max(ids.values()) == 1
    kinds = Counter(e.routing_key for e in events)
    assert kinds == Counter(
        {
            "sla.warning.jinan-taxi": 2 * N_TICKETS,
            "sla.breach.jinan-taxi": 2 * N_TICKETS,
            "sla.urge.jinan-taxi": N_TICKETS,
            "sla.circular.jinan-taxi": N_TICKETS,
        }
    )
    assert service.components is not None
    assert await service.components.storage.timers.count_documents({"state": "pending"}) == 0
    # running again fires nothing
    assert sum(await asyncio.gather(*(s.run_once() for s in schedulers))) == 0


async def test_killed_scheduler_timer_is_picked_up_after_the_lease(service: Service, peer: Peer) -> None:
    clock = await seed(service)
    doomed = scheduler(service, clock, "doomed")
    claimed = await doomed.claim(clock.now())  # claims, then "dies" before firing
    assert claimed is not None
    survivors = [scheduler(service, clock, f"replica-{i}") for i in range(2)]
    assert sum(await asyncio.gather(*(s.run_once() for s in survivors))) == N_TICKETS - 1, (
        "leased one is left"
    )
    clock.advance(timedelta(seconds=31))  # the lease runs out
    assert sum(await asyncio.gather(*(s.run_once() for s in survivors))) == 1
    events = await peer.drain(
        peer.names.queue("supervisor.events"), expect=N_TICKETS * EVENTS_PER_TICKET, timeout=30
    )
    ids = Counter(e.message_id for e in events)
    assert len(ids) == N_TICKETS * EVENTS_PER_TICKET and max(ids.values()) == 1
    assert any(m.message_id is not None and m.message_id.startswith(claimed["_id"]) for m in events)
    # the dead replica, coming back, cannot complete what it no longer holds
    assert await doomed.fire(claimed, clock.now()) is False


async def test_steps_of_a_ticket_that_moved_on_are_dropped(service: Service, peer: Peer) -> None:
    clock = await seed(service)
    assert service.components is not None
    await service.components.storage.tickets.update_many({}, {"$set": {"state": "closed"}})
    assert await scheduler(service, clock, "r").run_once() == N_TICKETS
    assert await peer.drain(peer.names.queue("supervisor.events"), timeout=1, quiet=0.3) == []
    done = await service.components.storage.timers.find_one({})
    assert done is not None and done["state"] == "done" and done["log"][-1]["dropped"] == STEPS
