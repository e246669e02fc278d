"""Department and agent feedback, pure part: what a sign-off, reply, return, extension request,
progress note, triage decision or callback result does to a ticket (DESIGN §4–§7).

``apply_feedback`` returns a ``TicketPlan`` (the changed ticket and what to publish) or raises
``FeedbackRejected`` with a machine-readable reason; it never touches storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.clock import as_utc
from router.events import event
from router.lifecycle import IllegalTransition
from router.plans import SYSTEM, DispatchKind, TicketPlan, dispatch, emit, move, transfer, triage
from router.routing import Router
from router.sla import DeadlineCalculator
from router.tickets import classification_with
from router.timers import callback_timer
from schemas.v1.feedback import (
    AgentCallback,
    AgentTriage,
    ExtensionRequest,
    Feedback,
    Progress,
    Replied,
    Returned,
    Signed,
)
from schemas.v1.vocab import (
    CallbackOutcome,
    Domain,
    Hotline,
    ReturnReason,
    RouteAction,
    Satisfaction,
    TicketState,
    TicketType,
    Urgency,
)

S = TicketState


class FeedbackRejected(Exception):
    """The message is well-formed but cannot apply to this ticket (it goes to the dead-letter queue)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FeedbackContext:
    router: Router
    deadlines: DeadlineCalculator
    tz: Any
    max_extension_days: int = 10
    callback_attempts: int = 3


def apply_feedback(doc: dict[str, Any], fb: Feedback, *, now: datetime, ctx: FeedbackContext) -> TicketPlan:
    plan = TicketPlan.editing(doc)
    try:
        match fb:
            case Signed():
                _signed(plan, fb, now, ctx)
            case Replied():
                _replied(plan, fb, now, ctx)
            case Returned():
                _returned(plan, fb, now, ctx)
            case ExtensionRequest():
                _extension(plan, fb, now, ctx)
            case Progress():
                _assigned(plan, fb.department)
                plan.doc.setdefault("progress", []).append(
                    {"at": fb.at, "department": fb.department, "note": fb.note}
                )
                plan.doc["updated_at"] = now
            case AgentTriage():
                _triaged(plan, fb, now, ctx)
            case AgentCallback():
                _callback(plan, fb, now, ctx)
    except IllegalTransition as exc:
        raise FeedbackRejected("illegal_transition", str(exc)) from exc
    return plan


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    assert isinstance(value, datetime)
    return as_utc(value)


def _on_time(doc: dict[str, Any], deadline: str, at: datetime) -> bool:
    """``at`` is no later than the ticket's ``deadline`` (one not set cannot be missed)."""
    due = _aware(doc["deadlines"].get(deadline))
    return due is None or at <= due


def _assigned(plan: TicketPlan, department: str) -> None:
    if plan.doc.get("department") != department:
        raise FeedbackRejected(
            "not_assigned",
            f"ticket {plan.doc['_id']} is with {plan.doc.get('department')!r}, not {department!r}",
        )


def _signed(plan: TicketPlan, fb: Signed, now: datetime, ctx: FeedbackContext) -> None:
    _assigned(plan, fb.department)
    reply = plan.doc.get("reply") or {}
    replied_at = _aware(reply.get("at"))
    # (stored times have millisecond precision: compare at that precision)
    sign_ms = fb.at.replace(microsecond=fb.at.microsecond // 1000 * 1000)
    if reply.get("department") == fb.department and replied_at is not None and sign_ms <= replied_at:
        # a sign that arrives after this department's own reply (its systems sent both; the reply,
        # which implied the sign, overtook it): nothing to move, but its time is the true sign time
        if (signed_at := _aware(plan.doc.get("signed_at"))) is None or fb.at < signed_at:
            plan.doc["signed_at"] = fb.at
            plan.doc["signed_on_time"] = _on_time(plan.doc, "sign_due", fb.at)
        return
    if plan.doc.pop("relabel_on_sign", False):
        _label_accepted(plan, fb.department, now, ctx)
    on_time = _on_time(plan.doc, "sign_due", fb.at)
    move(
        plan,
        S.SIGNED,
        now=now,
        actor=f"department:{fb.department}",
        reason="签收",
        details={"on_time": on_time},
    )
    plan.doc["signed_at"] = fb.at
    plan.doc["signed_on_time"] = on_time


def _replied(plan: TicketPlan, fb: Replied, now: datetime, ctx: FeedbackContext) -> None:
    _assigned(plan, fb.department)
    doc = plan.doc
    details: dict[str, Any] = {"resolved": fb.resolved, "on_time": _on_time(doc, "reply_due", fb.at)}
    if doc["state"] == S.DISPATCHED.value:  # replying implies having signed
        doc["signed_at"] = fb.at
        doc["signed_on_time"] = details["signed_on_time"] = _on_time(doc, "sign_due", fb.at)
    move(plan, S.REPLIED, now=now, actor=f"department:{fb.department}", reason="办结答复", details=details)
    doc["replied_at"] = fb.at
    doc["reply"] = {"result": fb.result, "resolved": fb.resolved, "at": fb.at, "department": fb.department}
    doc["replied_on_time"] = details["on_time"]
    phone = (doc.get("caller") or {}).get("phone")
    if not phone:
        _close(plan, now, actor=SYSTEM, reason="无来电号码，无法回访，办结即结案")
        return
    move(plan, S.CALLBACK_PENDING, now=now, reason="待回访")
    doc["callback"] = {"attempts": 0, "results": [], "since": now}
    plan.timers.append(callback_timer(doc, callback_attempt=1, due=now))


def _returned(plan: TicketPlan, fb: Returned, now: datetime, ctx: FeedbackContext) -> None:
    _assigned(plan, fb.department)
    doc = plan.doc
    until = _aware(doc["deadlines"].get("return_until"))
    if until is not None and fb.at > until:
        raise FeedbackRejected(
            "return_window_closed",
            f"ticket {doc['_id']}: returns were accepted until {until.isoformat()}, "
            f"this one is from {fb.at.isoformat()}",
        )
    move(
        plan,
        S.RETURNED,
        now=now,
        actor=f"department:{fb.department}",
        reason=f"退单（{fb.reason_code.value}）：{fb.reason}",
        details={"reason_code": fb.reason_code.value},
    )
    doc["returned_by"] = [*doc.get("returned_by", []), fb.department]
    if fb.reason_code is ReturnReason.WRONG_FUNCTION:
        plan.labels.append(_label(doc, source="return", at=now, not_department=fb.department))
        # the department that signs the re-routed ticket tells where it belonged (see _signed)
        doc["relabel_on_sign"] = True
    _reroute(plan, now, ctx)


def _reroute(plan: TicketPlan, now: datetime, ctx: FeedbackContext) -> None:
    doc = plan.doc
    returned = frozenset(doc.get("returned_by", []))
    decision = ctx.router.route(
        Hotline(doc["hotline"]),
        classification_with(doc),
        exclude=returned,
        bounces=len(doc.get("returned_by", [])),
    )
    if decision.action is RouteAction.DISPATCH:
        assert decision.department is not None
        c = doc["classification"]
        deadlines = ctx.deadlines.for_dispatch(
            at=now, type=TicketType(c["type"]), urgency=Urgency(c["urgency"]), hotline=Hotline(doc["hotline"])
        )
        dispatch(
            plan,
            decision.department,
            deadlines,
            now=now,
            tz=ctx.tz,
            kind="redispatch",
            reason=decision.reason,
            rule=decision.rule,
            note=_history_note(doc),
        )
    elif decision.action is RouteAction.TRANSFER:
        assert decision.to is not None
        transfer(plan, decision.to, reason=decision.reason, now=now)
    else:
        triage(plan, reason=decision.reason, rule=decision.rule, now=now)


def _history_note(doc: dict[str, Any]) -> str | None:
    returns = [h for h in doc["history"] if h["to"] == S.RETURNED.value]
    if not returns:
        return None
    return "；".join(f"{h['actor'].removeprefix('department:')}：{h['reason']}" for h in returns)


def _extension(plan: TicketPlan, fb: ExtensionRequest, now: datetime, ctx: FeedbackContext) -> None:
    _assigned(plan, fb.department)
    doc = plan.doc
    if doc["state"] not in (S.DISPATCHED.value, S.SIGNED.value):
        raise FeedbackRejected(
            "illegal_transition", f"ticket {doc['_id']} is {doc['state']}: nothing to extend"
        )
    due = _aware(doc["deadlines"].get("reply_due"))
    if due is not None and fb.at >= due:
        raise FeedbackRejected(
            "extension_too_late",
            f"ticket {doc['_id']}: extensions must be requested before {due.isoformat()}",
        )
    extensions = doc.setdefault("extensions", [])
    asked = sum(e["days"] for e in extensions if e["state"] in ("pending", "approved"))
    if asked + fb.days > ctx.max_extension_days:
        raise FeedbackRejected(
            "extension_limit",
            f"ticket {doc['_id']}: {asked} working days already requested or approved; "
            f"{fb.days} more would exceed {ctx.max_extension_days}",
        )
    extensions.append(
        {
            "n": len(extensions) + 1,
            "days": fb.days,
            "reason": fb.reason,
            "requested_at": fb.at,
            "department": fb.department,
            "state": "pending",
        }
    )
    doc["updated_at"] = now


def _triaged(plan: TicketPlan, fb: AgentTriage, now: datetime, ctx: FeedbackContext) -> None:
    doc = plan.doc
    if doc["state"] not in (S.TRIAGE.value, S.RETURNED.value, S.REOPENED.value):
        raise FeedbackRejected(
            "illegal_transition", f"ticket {doc['_id']} is {doc['state']}, not awaiting triage"
        )
    corrected = {
        k: v for k, v in (("type", fb.type), ("domain", fb.domain), ("transport", fb.transport)) if v
    }
    c = doc["classification"]
    if corrected:
        c.update({k: v.value for k, v in corrected.items()})
        if c["domain"] != Domain.TRANSPORT.value:
            c["transport"] = None
        c.setdefault("explanation", []).append(
            f"人工分拣修正：{ {k: v.value for k, v in corrected.items()} }"
        )
    actor = f"agent:{fb.agent}"
    plan.labels.append(
        _label(
            doc,
            source="triage",
            at=now,
            department=fb.department,
            transfer_to=fb.transfer_to.value if fb.transfer_to else None,
        )
    )
    if fb.transfer_to is not None:
        if fb.transfer_to.value == doc["hotline"]:
            raise FeedbackRejected(
                "bad_transfer", f"ticket {doc['_id']} is already on hotline {doc['hotline']}"
            )
        transfer(plan, fb.transfer_to, reason="人工分拣：转另一热线", now=now, actor=actor)
        return
    assert fb.department is not None
    if fb.department not in ctx.router.directory:
        raise FeedbackRejected("unknown_department", f"department {fb.department!r} is not in the directory")
    deadlines = ctx.deadlines.for_dispatch(
        at=now, type=TicketType(c["type"]), urgency=Urgency(c["urgency"]), hotline=Hotline(doc["hotline"])
    )
    kind: DispatchKind = "redispatch"
    if doc.get("attempt", 0) == 0:
        kind = "new"
    elif doc["state"] == S.REOPENED.value:
        kind = "reopen"
    dispatch(
        plan,
        fb.department,
        deadlines,
        now=now,
        tz=ctx.tz,
        kind=kind,
        reason="人工分拣派单",
        rule="manual",
        actor=actor,
        note=_history_note(doc),
    )


def _callback(plan: TicketPlan, fb: AgentCallback, now: datetime, ctx: FeedbackContext) -> None:
    doc = plan.doc
    if doc["state"] != S.CALLBACK_PENDING.value:
        raise FeedbackRejected(
            "illegal_transition", f"ticket {doc['_id']} is {doc['state']}, no callback pending"
        )
    cb = doc.setdefault("callback", {"attempts": 0, "results": []})
    cb["attempts"] += 1
    cb["results"].append(
        {
            "at": fb.at,
            "agent": fb.agent,
            "outcome": fb.outcome.value,
            "satisfaction": fb.satisfaction.value if fb.satisfaction else None,
            "comment": fb.comment,
        }
    )
    actor = f"agent:{fb.agent}"
    if fb.outcome is CallbackOutcome.REACHED:
        assert fb.satisfaction is not None
        doc["satisfaction"] = fb.satisfaction.value
        if fb.satisfaction is Satisfaction.DISSATISFIED:
            _reopen(plan, now, ctx, actor=actor, comment=fb.comment)
            return
        _close(plan, now, actor=actor, reason=f"回访{fb.satisfaction.value}")
        return
    if (
        fb.outcome in (CallbackOutcome.REFUSED, CallbackOutcome.INVALID_NUMBER)
        or cb["attempts"] >= ctx.callback_attempts
    ):
        _close(
            plan, now, actor=actor, reason=f"回访未成功（{fb.outcome.value}，第 {cb['attempts']} 次），结案"
        )
        return
    doc["updated_at"] = now
    plan.timers.append(callback_timer(doc, callback_attempt=cb["attempts"] + 1, due=now))


def _close(plan: TicketPlan, now: datetime, *, actor: str, reason: str) -> None:
    doc = plan.doc
    move(plan, S.CLOSED, now=now, actor=actor, reason=reason)
    doc["closed_at"] = now
    emit(plan, event(doc, "ticket.closed", now=now, message_id=f"{doc['_id']}.closed.{doc['attempt']}"))


def _reopen(
    plan: TicketPlan, now: datetime, ctx: FeedbackContext, *, actor: str, comment: str | None
) -> None:
    doc = plan.doc
    move(plan, S.REOPENED, now=now, actor=actor, reason=f"回访不满意，重办：{comment or ''}".rstrip("："))
    doc["reopened"] = int(doc.get("reopened", 0)) + 1
    emit(plan, event(doc, "ticket.reopened", now=now, message_id=f"{doc['_id']}.reopened.{doc['reopened']}"))
    department = doc.get("department")
    c = doc["classification"]
    if department:
        deadlines = ctx.deadlines.for_dispatch(
            at=now, type=TicketType(c["type"]), urgency=Urgency(c["urgency"]), hotline=Hotline(doc["hotline"])
        )
        dispatch(
            plan,
            department,
            deadlines,
            now=now,
            tz=ctx.tz,
            kind="reopen",
            reason="重办",
            rule="reopen",
            note=f"市民不满意：{comment}" if comment else "市民不满意",
        )
    else:
        triage(plan, reason="重办：原承办单位未知，需人工派单", rule="reopen", now=now)


def _label_accepted(plan: TicketPlan, department: str, now: datetime, ctx: FeedbackContext) -> None:
    """A ticket returned as 职能不符 was re-routed and is now signed by ``department``: if that
    department handles exactly one domain (and, for transport, one sub-domain), that is a label for
    ``train``. A general office or a multi-domain bureau says nothing about the domain."""
    dept = ctx.router.directory.get(department)
    if dept is None or len(dept.domains) != 1:
        return
    domain = dept.domains[0]
    transport = dept.transport[0].value if domain is Domain.TRANSPORT and len(dept.transport) == 1 else None
    plan.labels.append(
        _label(
            plan.doc,
            source="return_resolved",
            at=now,
            department=department,
            domain=domain.value,
            transport=transport,
            classified_domain=plan.doc["classification"]["domain"],
        )
    )


def _label(doc: dict[str, Any], *, source: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A labelled example for ``train``: the text and what a human said about where it belongs."""
    c = doc["classification"]
    return {
        "ticket_id": doc["_id"],
        "source": source,
        "at": at,
        "hotline": doc["hotline"],
        "title": doc.get("title"),
        "content": doc["content"],
        "type": c["type"],
        "domain": c["domain"],
        "transport": c["transport"],
        "model_version": c.get("model_version"),
        **fields,
    }
