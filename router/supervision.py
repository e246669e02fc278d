"""Supervisor actions (督办), I/O part: load the ticket, apply the pure decision, store it with an
optimistic version check, move its SLA timer chain, and keep an audit entry."""

from __future__ import annotations

from typing import Any

import structlog

from router.domain import PolicyDeadlines
from router.extensions import ExtensionDecisionError, decide_extension
from router.messages import Clock
from router.recompute import rechained
from router.storage import Storage
from router.tokens import Principal

log = structlog.get_logger("supervision")

MAX_CONFLICT_RETRIES = 5


class Supervision:
    def __init__(self, *, storage: Storage, deadlines: PolicyDeadlines, clock: Clock) -> None:
        self._storage = storage
        self._deadlines = deadlines
        self._clock = clock

    async def decide_extension(
        self, ticket_id: str, n: int, *, approve: bool, principal: Principal, comment: str | None = None
    ) -> dict[str, Any]:
        for _ in range(MAX_CONFLICT_RETRIES):
            doc = await self._storage.get_ticket(ticket_id)
            if doc is None:
                raise ExtensionDecisionError("not_found", f"no ticket {ticket_id!r}", 404)
            now = self._clock.now()
            plan = decide_extension(
                doc,
                n,
                approve=approve,
                actor=f"supervisor:{principal.subject}",
                now=now,
                deadlines=self._deadlines,
                comment=comment,
            )
            for timer in plan.timers:  # the moved chain keeps the steps it already ran
                old = await self._storage.timers.find_one({"_id": timer["_id"]})
                await self._storage.timers.replace_one(
                    {"_id": timer["_id"]}, rechained(old, timer), upsert=True
                )
            if await self._storage.replace_ticket(plan.doc, expected_version=doc["version"]):
                await self._storage.audit_log(
                    {
                        "at": now,
                        "actor": principal.subject,
                        "role": principal.role,
                        "action": "extension.approve" if approve else "extension.deny",
                        "ticket_id": ticket_id,
                        "n": n,
                    }
                )
                log.info("extension_decided", ticket_id=ticket_id, n=n, approved=approve)
                return plan.doc
        raise ExtensionDecisionError("conflict", f"ticket {ticket_id} kept changing; try again")
