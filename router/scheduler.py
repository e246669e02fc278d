"""The timer scheduler: claims due timers with a lease and fires each step exactly once.

Several replicas may run it against one database. A claim is one ``find_one_and_update`` that sets a
lease (``lease_until``) and an owner; completing the step is conditional on still holding that lease.
A replica killed mid-fire leaves the lease to expire and the next replica fires the step again with the
same ``message_id`` (consumers dedupe on it). A step whose ticket has moved on is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo import ASCENDING, ReturnDocument

from router.messages import Clock, Publisher
from router.metrics import Metrics
from router.storage import Storage
from router.timers import CallTime, evaluate

log = structlog.get_logger("timers")

Window = Callable[[dict[str, Any]], str]


class TimerScheduler:
    def __init__(
        self,
        *,
        storage: Storage,
        publisher: Publisher,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        call_time: CallTime,
        window: Window,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self._storage = storage
        self._publisher = publisher
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._call_time = call_time
        self._window = window
        self._lease = lease

    async def claim(self, now: datetime, *, timer_id: str | None = None) -> dict[str, Any] | None:
        """Take one due timer (or the given one, if still due and free) with a lease."""
        query: dict[str, Any] = {"state": "pending", "due": {"$lte": now}, "lease_until": {"$lte": now}}
        if timer_id is not None:
            query["_id"] = timer_id
        return await self._storage.timers.find_one_and_update(
            query,
            {"$set": {"lease_until": now + self._lease, "owner": self._owner}, "$inc": {"claims": 1}},
            sort=[("due", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def fire(self, timer: dict[str, Any], now: datetime) -> bool:
        """Run the due steps of a claimed timer; False when the lease was lost meanwhile."""
        ticket = await self._storage.get_ticket(timer["ticket_id"])
        ev = evaluate(timer, ticket, now, call_time=self._call_time, window=self._window(ticket or {}))
        await self._publisher.publish(ev.messages)
        update: dict[str, Any] = {
            "next": ev.next_index,
            "state": "done" if ev.done else "pending",
            "due": ev.next_due if ev.next_due is not None else timer["due"],
            "lease_until": now,  # released: the next step may be claimed as soon as it is due
            "steps": timer["steps"],
        }
        if ev.fired:
            update["fired_at"] = now
        result = await self._storage.timers.update_one(
            {"_id": timer["_id"], "owner": self._owner, "lease_until": timer["lease_until"]},
            {
                "$set": update,
                "$push": {
                    "log": {
                        "$each": [{"at": now, "by": self._owner, "fired": ev.fired, "dropped": ev.dropped}]
                    }
                },
            },
        )
        for name in ev.fired:
            self._metrics.timers_fired.labels(kind=name).inc()
        if ev.fired or ev.dropped:
            log.info(
                "timer_fired",
                ticket_id=timer["ticket_id"],
                timer=timer["_id"],
                fired=ev.fired,
                dropped=ev.dropped,
                rescheduled=ev.rescheduled,
            )
        return bool(result.matched_count)

    async def run_once(self, limit: int = 1000, batch: int = 100, concurrency: int = 16) -> int:
        """Fire everything due now (up to ``limit`` timers); returns how many timers were processed.

        One query finds due candidates; each is then claimed by ``_id`` (cheap, conditional) and fired,
        several at a time. A candidate another replica claimed first is simply skipped."""
        done = 0
        slots = asyncio.Semaphore(concurrency)

        async def one(timer_id: str) -> int:
            async with slots:
                now = self._clock.now()
                timer = await self.claim(now, timer_id=timer_id)
                if timer is None:
                    return 0
                await self.fire(timer, now)
                return 1

        while done < limit:
            now = self._clock.now()
            cursor = (
                self._storage.timers.find(
                    {"state": "pending", "due": {"$lte": now}, "lease_until": {"$lte": now}}, {"_id": 1}
                )
                .sort("due", ASCENDING)
                .limit(min(batch, limit - done))
            )
            ids = [t["_id"] async for t in cursor]
            if not ids:
                break
            fired = sum(await asyncio.gather(*(one(i) for i in ids)))
            done += fired
            if fired == 0:
                break  # all taken by other replicas meanwhile
        return done

    async def run_forever(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer_scheduler_failed")
            await asyncio.sleep(interval_s)
