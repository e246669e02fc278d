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

    async def claim(self, now: datetime) -> dict[str, Any] | None:
        return await self._storage.timers.find_one_and_update(
            {"state": "pending", "due": {"$lte": now}, "lease_until": {"$lte": now}},
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

    async def run_once(self, limit: int = 1000) -> int:
        """Fire everything due now (up to ``limit`` timers); returns how many timers were processed."""
        n = 0
        while n < limit:
            now = self._clock.now()
            timer = await self.claim(now)
            if timer is None:
                break
            await self.fire(timer, now)
            n += 1
        return n

    async def run_forever(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer_scheduler_failed")
            await asyncio.sleep(interval_s)
