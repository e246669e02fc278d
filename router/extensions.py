"""A supervisor's decision on a department's extension request (延期审批), pure part.

Only an approved extension moves the reply deadline (and the SLA timer chain with it); a denial is
recorded and changes no clock. The request's rules (asked before the deadline, total ≤ 10 working days)
are checked again at approval time by ``router.deadlines.apply_extension``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from router.deadlines import ExtensionRejected
from router.domain import PolicyDeadlines
from router.plans import TicketPlan
from router.timers import sla_timer
from schemas.v1.vocab import TicketState


class ExtensionDecisionError(ValueError):
    """The decision cannot be applied; ``code`` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def decide_extension(
    doc: dict[str, Any],
    n: int,
    *,
    approve: bool,
    actor: str,
    now: datetime,
    deadlines: PolicyDeadlines,
    comment: str | None = None,
) -> TicketPlan:
    plan = TicketPlan.editing(doc)
    d = plan.doc
    extensions = d.get("extensions") or []
    if not 1 <= n <= len(extensions):
        raise ExtensionDecisionError("not_found", f"ticket {d['_id']} has no extension request {n}", 404)
    ext = extensions[n - 1]
    if ext["state"] != "pending":
        raise ExtensionDecisionError(
            "already_decided", f"extension {n} of ticket {d['_id']} is {ext['state']}"
        )
    if d["state"] not in (TicketState.DISPATCHED.value, TicketState.SIGNED.value):
        raise ExtensionDecisionError("illegal_state", f"ticket {d['_id']} is {d['state']}: nothing to extend")
    ext.update(
        {
            "state": "approved" if approve else "denied",
            "decided_at": now,
            "decided_by": actor,
            "comment": comment,
        }
    )
    d["updated_at"] = now
    if not approve:
        return plan
    try:
        fresh = deadlines.extended(d, days=int(ext["days"]), requested_at=ext["requested_at"])
    except ExtensionRejected as exc:
        raise ExtensionDecisionError(f"extension_{exc.reason}", str(exc)) from exc
    d["deadlines"] = fresh.to_doc()
    timer = sla_timer(d, fresh)
    if timer is not None:
        plan.timers.append(timer)
    return plan
