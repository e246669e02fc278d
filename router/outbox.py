"""The outbox relay: re-publishes what a crashed or failed publisher left pending.

A batch is claimed with a lease (``find_one_and_update``), so several replicas never publish the same
batch at the same time and a replica that dies mid-publish leaves it to the next one after the lease.
Only messages whose ticket recorded them (``outbox_ids``) are published: the others belong to a write
that never happened. Re-published messages keep their ``message_id``; departments dedupe on it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from router.messages import Clock, OutboundMessage, Publisher
from router.metrics import Metrics
from router.storage import Storage

log = structlog.get_logger("outbox")


class OutboxRelay:
    def __init__(
        self,
        *,
        storage: Storage,
        publisher: Publisher,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        grace: timedelta = timedelta(seconds=10),
        lease: timedelta = timedelta(seconds=60),
        keep_sent: timedelta = timedelta(days=7),
    ) -> None:
        self._storage = storage
        self._publisher = publisher
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._grace = grace
        self._lease = lease
        self._keep_sent = keep_sent

    async def run_once(self) -> int:
        """Re-publish every stale pending batch; returns how many messages went out."""
        sent = 0
        while True:
            now = self._clock.now()
            batch = await self._storage.outbox_claim_stale(
                older_than=now - self._grace, now=now, lease_until=now + self._lease, owner=self._owner
            )
            if batch is None:
                return sent
            messages = [OutboundMessage.from_doc(d) for d in batch["messages"]]
            committed = await self._storage.outbox_committed(messages)
            await self._publisher.publish(committed)
            await self._storage.outbox_sent(batch["_id"], self._clock.now())
            self._metrics.relay_republished.inc(len(committed))
            sent += len(committed)
            log.warning(
                "outbox_republished",
                batch=batch["_id"],
                messages=len(committed),
                dropped_orphans=len(messages) - len(committed),
            )

    async def purge(self) -> int:
        return await self._storage.outbox_purge_sent(self._clock.now() - self._keep_sent)

    async def run_forever(self, interval_s: float = 5.0) -> None:
        while True:
            try:
                await self.run_once()
                await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox_relay_failed")
            await asyncio.sleep(interval_s)
