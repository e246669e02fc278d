"""Changes to a ticket, planned in memory: the new document and the messages the change publishes.

Every state change goes through ``router.lifecycle.transition`` (validated, appended to ``history``);
every message is recorded in the ticket's ``outbox_ids`` in the same write that stores the change, which
is how the outbox relay knows the effect was committed. Pure: storage writes the planned document
with an optimistic ``version`` check.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from router.events import event
from router.lifecycle import transition
from router.messages import Exchange, OutboundMessage
from router.sla import DeadlineSet
from router.tickets import DeadlineValues, dispatch_body, transfer_body
from router.timers import sla_timer
from schemas.v1.vocab import Hotline, TicketState

SYSTEM = "router"
DispatchKind = Literal["new", "redispatch", "reopen"]


@dataclass(slots=True)
class TicketPlan:
    """What to store and what to publish for one ticket."""

    doc: dict[str, Any]
    messages: list[OutboundMessage] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def editing(cls, doc: dict[str, Any]) -> TicketPlan:
        """A plan that changes a copy of a stored ticket (the stored one stays untouched)."""
        return cls(copy.deepcopy(doc))

    @property
    def state(self) -> TicketState:
        return TicketState(self.doc["state"])


def move(
    plan: TicketPlan,
    to: TicketState,
    *,
    now: datetime,
    reason: str,
    actor: str = SYSTEM,
    details: dict[str, Any] | None = None,
) -> None:
    doc = plan.doc
    entry = transition(
        doc["_id"], TicketState(doc["state"]), to, at=now, actor=actor, reason=reason, details=details
    )
    doc["state"] = to.value
    doc["updated_at"] = now
    doc["history"].append(entry.to_doc())


def emit(plan: TicketPlan, message: OutboundMessage) -> None:
    plan.messages.append(message)
    plan.doc["outbox_ids"].append(message.message_id)


def dispatch_message_id(ticket_id: str, attempt: int) -> str:
    return f"{ticket_id}.dispatch.{attempt}"


def dispatch(
    plan: TicketPlan,
    department: str,
    deadlines: DeadlineSet,
    *,
    now: datetime,
    tz: Any,
    kind: DispatchKind,
    reason: str,
    rule: str | None = None,
    actor: str = SYSTEM,
    note: str | None = None,
) -> None:
    """Hand the ticket to ``department`` with fresh deadlines (new, re-dispatch after a return, reopen)."""
    doc = plan.doc
    attempt = int(doc.get("attempt", 0)) + 1
    move(
        plan,
        TicketState.DISPATCHED,
        now=now,
        reason=reason,
        actor=actor,
        details={"department": department, "attempt": attempt, "kind": kind, "rule": rule},
    )
    doc["department"] = department
    doc["attempt"] = attempt
    doc["dispatched_at"] = now
    doc["signed_at"] = None
    doc["deadlines"] = deadlines.to_doc()
    timer = sla_timer(doc, deadlines)
    if timer is not None:
        plan.timers.append(timer)
    body = dispatch_body(
        doc,
        department=department,
        kind=kind,
        attempt=attempt,
        deadlines=DeadlineValues(deadlines.sign_due, deadlines.reply_due),
        tz=tz,
        history_note=note,
    )
    emit(
        plan,
        OutboundMessage.of(
            Exchange.DISPATCH,
            f"dept.{department}",
            dispatch_message_id(doc["_id"], attempt),
            doc["_id"],
            body,
        ),
    )


def transfer(plan: TicketPlan, to: Hotline, *, reason: str, now: datetime, actor: str = SYSTEM) -> None:
    """Hand the ticket to the other hotline (terminal here): 不断档 — it leaves with everything we know."""
    doc = plan.doc
    move(plan, TicketState.TRANSFERRED, now=now, reason=reason, actor=actor, details={"to": to.value})
    doc["transferred_to"] = to.value
    doc["department"] = None
    body = transfer_body(doc, to=to, reason=reason)
    emit(
        plan,
        OutboundMessage.of(
            Exchange.DISPATCH, f"transfer.{to.value}", f"{doc['_id']}.transfer", doc["_id"], body
        ),
    )


def triage(plan: TicketPlan, *, reason: str, rule: str, now: datetime, actor: str = SYSTEM) -> None:
    """Ask a human for the routing decision (low confidence, arbitration after repeated returns)."""
    doc = plan.doc
    move(plan, TicketState.TRIAGE, now=now, reason=reason, actor=actor, details={"rule": rule})
    doc["department"] = None
    doc["triage"] = {"rule": rule, "reason": reason, "since": now}
    n = sum(1 for h in doc["history"] if h["to"] == TicketState.TRIAGE.value)
    emit(plan, event(doc, "triage.needed", now=now, message_id=f"{doc['_id']}.triage.{n}", reason=reason))
