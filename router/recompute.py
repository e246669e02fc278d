"""Recomputing provisional deadlines when the calendar data arrives (DESIGN §7).

A deadline that reached into a year without a published holiday schedule was computed with weekends
and statutory holidays only and marked ``provisional``. When the year's schedule arrives (a package
update or ``calendar_overrides.yaml``, i.e. a new ``calendar_version``), every open ticket with such a
deadline is recomputed from its dispatch time, and its SLA timer chain is moved with it: steps already
fired stay fired, the others get the new due times.
"""

from __future__ import annotations

from typing import Any

import structlog

from router.clock import as_utc
from router.lifecycle import WITH_DEPARTMENT
from router.messages import Clock
from router.sla import DeadlineCalculator
from router.storage import Storage
from router.timers import sla_timer
from schemas.v1.vocab import Hotline, TicketType, Urgency

log = structlog.get_logger("recompute")


def rechained(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The new SLA chain, keeping the steps the old chain already ran (pure)."""
    if old is None:
        return new
    done = old["steps"][: int(old["next"])]
    done_names = {s["name"] for s in done}
    rest = [s for s in new["steps"] if s["name"] not in done_names]
    chain = dict(new)
    chain["steps"] = done + rest
    chain["next"] = len(done)
    chain["state"] = "pending" if rest else "done"
    chain["due"] = rest[0]["due"] if rest else old["due"]
    chain["lease_until"] = chain["due"]
    return chain


async def recompute_provisional(
    storage: Storage, deadlines: DeadlineCalculator, *, calendar_version: str, clock: Clock
) -> int:
    """Recompute every open ticket whose provisional deadlines came from other calendar data."""
    changed = 0
    cursor = storage.tickets.find(
        {
            "state": {"$in": sorted(s.value for s in WITH_DEPARTMENT)},
            "deadlines.provisional": True,
            "deadlines.calendar_version": {"$ne": calendar_version},
        }
    )
    async for doc in cursor:
        c = doc["classification"]
        dispatched_at = as_utc(doc["dispatched_at"])
        fresh = deadlines.for_dispatch(
            at=dispatched_at,
            type=TicketType(c["type"]),
            urgency=Urgency(c["urgency"]),
            hotline=Hotline(doc["hotline"]),
        )
        updated = await storage.tickets.update_one(
            {"_id": doc["_id"], "version": doc["version"]},
            {"$set": {"deadlines": fresh.to_doc(), "updated_at": clock.now()}, "$inc": {"version": 1}},
        )
        if not updated.modified_count:
            continue  # changed meanwhile (signed, replied…): its next recompute pass sees it again
        new_chain = sla_timer(doc, fresh)
        if new_chain is not None:
            old_chain = await storage.timers.find_one({"_id": new_chain["_id"]})
            await storage.timers.replace_one(
                {"_id": new_chain["_id"]}, rechained(old_chain, new_chain), upsert=True
            )
        changed += 1
        log.info(
            "deadlines_recomputed",
            ticket_id=doc["_id"],
            reply_due=fresh.reply_due.isoformat() if fresh.reply_due else None,
            provisional=fresh.provisional,
            calendar=calendar_version,
        )
    return changed
