"""Intake, pure part: parse an inbound body, and plan what a new ticket becomes.

``plan_new_ticket`` turns (intake, classification, route decision, deadlines) into the ticket document
to store and the messages to publish. No I/O: ``router.intake_service`` does the reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from router.classification import Classification
from router.events import event
from router.lifecycle import transition
from router.messages import InboundMessage, Outcome, invalid_body, oversize
from router.plans import TicketPlan, dispatch, emit, move, transfer, triage
from router.routing import RouteDecision
from router.sla import DeadlineSet
from router.tickets import IntakeTicket, new_ticket_doc, ticket_id_for
from router.timers import triage_timer
from schemas.v1.intake import INTAKE_ADAPTER
from schemas.v1.vocab import Hotline, RouteAction, TicketState

INTAKE_KEYS = {f"ticket.{h.value}": h for h in Hotline}


@dataclass(frozen=True, slots=True)
class Parsed:
    intake: IntakeTicket
    ticket_id: str


def parse_intake(message: InboundMessage, *, max_body_bytes: int) -> Parsed | Outcome:
    """Validate one intake delivery; an ``Outcome`` (reject) says precisely what was wrong."""
    too_big = oversize(message, max_body_bytes)
    if too_big is not None:
        return too_big
    hotline = INTAKE_KEYS.get(message.routing_key)
    if hotline is None:
        return Outcome.reject(
            "unknown_routing_key",
            f"routing key {message.routing_key!r} is not one of {sorted(INTAKE_KEYS)}",
        )
    try:
        intake = INTAKE_ADAPTER.validate_json(message.body)
    except ValidationError as exc:
        return invalid_body(exc)
    if intake.hotline is not hotline:
        return Outcome.reject(
            "hotline_mismatch",
            f"body says hotline {intake.hotline.value} but it was published with key {message.routing_key}",
        )
    return Parsed(intake, ticket_id_for(intake.hotline, intake.external_id))


def _received(parsed: Parsed, classification: Classification, *, now: datetime) -> TicketPlan:
    """The ticket as received, before any routing decision."""
    created = transition(
        parsed.ticket_id,
        None,
        TicketState.RECEIVED,
        at=now,
        actor=f"hotline:{parsed.intake.hotline.value}",
        reason="intake",
    )
    return TicketPlan(
        new_ticket_doc(
            parsed.intake, ticket_id=parsed.ticket_id, classification=classification, created=created, now=now
        )
    )


def plan_new_ticket(
    parsed: Parsed,
    classification: Classification,
    route: RouteDecision,
    deadlines: DeadlineSet | None,
    *,
    now: datetime,
    tz: Any,
) -> TicketPlan:
    plan = _received(parsed, classification, now=now)
    doc = plan.doc
    doc["route"] = {
        "action": route.action.value,
        "department": route.department,
        "to": route.to.value if route.to else None,
        "rule": route.rule,
        "reason": route.reason,
    }
    if route.action is RouteAction.DISPATCH:
        assert route.department is not None and deadlines is not None
        dispatch(
            plan,
            route.department,
            deadlines,
            now=now,
            tz=tz,
            kind="new",
            reason=route.reason,
            rule=route.rule,
        )
    elif route.action is RouteAction.TRANSFER:
        assert route.to is not None
        transfer(plan, route.to, reason=route.reason, now=now)
    else:
        triage(plan, reason=route.reason, rule=route.rule, now=now)
        if deadlines is not None:
            doc["deadlines"] = deadlines.to_doc()
            timer = triage_timer(doc, deadlines)
            if timer is not None:
                plan.timers.append(timer)
    return plan


def plan_merge(
    parsed: Parsed, classification: Classification, target_id: str, score: float, *, now: datetime
) -> TicketPlan:
    """A duplicate of an open ticket of the same caller (并单): stored, linked, not dispatched again."""
    plan = _received(parsed, classification, now=now)
    ticket_id, doc = parsed.ticket_id, plan.doc
    reason = f"同一来电人重复反映，相似度 {score:.2f}，并入工单 {target_id}"
    move(plan, TicketState.MERGED, now=now, reason=reason, details={"into": target_id})
    doc["merged_into"] = target_id
    emit(
        plan,
        event(
            doc,
            "ticket.merged",
            now=now,
            message_id=f"{ticket_id}.merged",
            reason=reason,
            merged_into=target_id,
        ),
    )
    return plan
