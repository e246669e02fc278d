"""The running service: connections, consumers and background loops, started and stopped in order.

``Service`` is what ``serve``, ``demo``, ``bench`` and the integration tests run; ``router.app`` puts the
HTTP API in front of it. Roles split the work across replicas: ``consumers`` (intake + feedback),
``timers`` (SLA timers + outbox relay), ``api`` (HTTP only), ``all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from pymongo import AsyncMongoClient

from config.settings import Settings
from consumers.batching import BatchConsumer, DeadLetterer
from consumers.publisher import AmqpPublisher
from consumers.topology import Names, Topology, declare_topology
from router.classification import Classifier
from router.clock import SystemClock
from router.domain import Domain, build_domain
from router.feedback_service import FeedbackService
from router.intake_service import IntakeOptions, IntakeService
from router.messages import Clock, Exchange
from router.metrics import Metrics
from router.outbox import OutboxRelay
from router.recompute import recompute_provisional
from router.rollup_store import RollupBuffer, RollupStore
from router.scheduler import TimerScheduler
from router.storage import Doc, Storage, connect
from schemas.v1.vocab import Hotline

log = structlog.get_logger("service")


class Role(StrEnum):
    ALL = "all"
    CONSUMERS = "consumers"
    TIMERS = "timers"
    API = "api"


@dataclass
class Components:
    storage: Storage
    publisher: AmqpPublisher
    topology: Topology
    intake: IntakeService
    feedback: FeedbackService
    relay: OutboxRelay
    scheduler: TimerScheduler


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        mongo_url: str,
        role: Role = Role.ALL,
        clock: Clock | None = None,
        domain: Domain | None = None,
        metrics: Metrics | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.settings = settings
        self.mongo_url = mongo_url
        self.role = role
        self.clock: Clock = clock or SystemClock()
        self.domain = domain or build_domain(
            settings.config_dir, classifier=classifier, tz_name=settings.tz_name
        )
        self.metrics = metrics or Metrics()
        self.tz = ZoneInfo(settings.tz_name)
        self.names = Names(settings.amqp_prefix)
        self.instance = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self._mongo: AsyncMongoClient[Doc] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._consumers: list[BatchConsumer] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.components: Components | None = None
        self._rollups: RollupBuffer | None = None

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self._mongo = connect(self.mongo_url)
        storage = Storage(self._mongo[s.mongo_db])
        await storage.ensure_indexes()
        await RollupStore(storage.rollups).ensure_indexes()
        self._connection = await aio_pika.connect_robust(
            s.amqp_url,
            client_properties={"connection_name": f"hotline-router:{self.role.value}:{self.instance}"},
        )
        self._publish_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        topology = await declare_topology(
            self._publish_channel,
            self.names,
            departments=self.domain.directory.codes(),
            delivery_limit=s.delivery_limit,
        )
        publisher = AmqpPublisher(topology)
        self._rollups = RollupBuffer(RollupStore(storage.rollups))
        intake = IntakeService(
            storage=storage,
            publisher=publisher,
            classifier=self.domain.classifier,
            router=self.domain.router,
            deadlines=self.domain.deadlines,
            clock=self.clock,
            tz=self.tz,
            metrics=self.metrics,
            work_seconds=self.domain.calendar.working_seconds_between,
            rollups=self._rollups,
            options=IntakeOptions(max_body_bytes=s.max_body_bytes),
        )
        feedback = FeedbackService(
            storage=storage,
            publisher=publisher,
            domain=self.domain,
            clock=self.clock,
            tz=self.tz,
            metrics=self.metrics,
            rollups=self._rollups,
        )
        relay = OutboxRelay(
            storage=storage,
            publisher=publisher,
            clock=self.clock,
            metrics=self.metrics,
            owner=self.instance,
            grace=timedelta(seconds=s.outbox_grace_s),
        )
        scheduler = TimerScheduler(
            storage=storage,
            publisher=publisher,
            clock=self.clock,
            metrics=self.metrics,
            owner=self.instance,
            call_time=self.domain.call_time,
            window=lambda t: self.domain.calling_window(Hotline(t["hotline"]) if t.get("hotline") else None),
        )
        self.components = Components(storage, publisher, topology, intake, feedback, relay, scheduler)

        if self.role in (Role.ALL, Role.CONSUMERS):
            self._tasks.append(asyncio.create_task(self._rollups.run_forever(), name="rollup-flush"))
            await self._start_consumers(topology)
        if self.role in (Role.ALL, Role.TIMERS):
            self._tasks.append(asyncio.create_task(relay.run_forever(), name="outbox-relay"))
            self._tasks.append(asyncio.create_task(scheduler.run_forever(), name="timer-scheduler"))
            self._tasks.append(
                asyncio.create_task(self._recompute_forever(storage), name="deadline-recompute")
            )
        log.info(
            "service_started",
            role=self.role.value,
            instance=self.instance,
            db=s.mongo_db,
            prefix=s.amqp_prefix,
            departments=len(self.domain.directory.codes()),
        )

    async def _start_consumers(self, topology: Topology) -> None:
        assert self._connection is not None and self.components is not None
        s = self.settings
        self._consume_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._consume_channel.set_qos(prefetch_count=s.prefetch)
        dlx = await self._consume_channel.get_exchange(self.names.exchange(Exchange.DLX), ensure=False)
        dead = DeadLetterer(dlx)
        queues = [self.names.intake_queue(h) for h in Hotline] + [self.names.intake_unrouted]
        for name in queues:
            queue = await self._consume_channel.get_queue(name, ensure=False)
            consumer = BatchConsumer(
                name,
                queue,
                self.components.intake.handle,
                dead,
                batch_size=s.batch_size,
                wait_s=s.batch_wait_ms / 1000,
                concurrency=s.intake_concurrency,
            )
            await consumer.start()
            self._consumers.append(consumer)
        fb_queue = await self._consume_channel.get_queue(self.names.feedback_queue, ensure=False)
        fb = BatchConsumer(
            self.names.feedback_queue,
            fb_queue,
            self.components.feedback.handle,
            dead,
            batch_size=100,
            wait_s=0.01,
            concurrency=2,
        )
        await fb.start()
        self._consumers.append(fb)

    async def _recompute_forever(self, storage: Storage, interval_s: float = 6 * 3600) -> None:
        """At start-up, then periodically: provisional deadlines of open tickets follow new calendar data."""
        while True:
            try:
                n = await recompute_provisional(
                    storage,
                    self.domain.deadlines,
                    calendar_version=self.domain.calendar.version,
                    clock=self.clock,
                )
                if n:
                    log.info("provisional_deadlines_recomputed", tickets=n)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline_recompute_failed")
            await asyncio.sleep(interval_s)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Graceful: stop consuming, finish in-flight batches (bounded), stop loops, close connections."""
        for consumer in self._consumers:
            await consumer.stop(timeout_s)
        await self._close()
        log.info("service_stopped", role=self.role.value, instance=self.instance)

    async def abort(self) -> None:
        """Stop at once without finishing in-flight work (a fatal error; tests of a crash). Nothing is
        lost: unacked deliveries are redelivered and the outbox relay re-publishes what was stored."""
        for consumer in self._consumers:
            await consumer.abort()
        await self._close()
        log.warning("service_aborted", role=self.role.value, instance=self.instance)

    async def _close(self) -> None:
        self._consumers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for closable in (self._consume_channel, self._publish_channel, self._connection):
            if closable is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closable.close(), 5.0)
        self._consume_channel = self._publish_channel = None
        self._connection = None
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None

    # --- health -------------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            assert self.components is not None
            await asyncio.wait_for(self.components.storage.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {exc.__class__.__name__}"
        conn = self._connection
        checks["broker"] = "ok" if conn is not None and not conn.is_closed else "unreachable"
        checks["ready"] = checks["database"] == "ok" and checks["broker"] == "ok"
        self.metrics.ready.set(1 if checks["ready"] else 0)
        return checks

    @property
    def processed(self) -> int:
        return sum(c.processed for c in self._consumers)

    @property
    def transient_retries(self) -> int:
        return sum(c.transient_retries for c in self._consumers)
