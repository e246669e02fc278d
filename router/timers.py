"""Durable SLA and callback timers, pure part: what timers a ticket gets and what a due timer does.

One timer document per clock set (a *chain*): e.g. a dispatch gets one ``sla`` timer whose steps are
sign-off warning (黄灯) and breach (红灯), reply warning, reply breach + urge (催办), and the circular
(通报) after more than 5 working days overdue. The scheduler claims the document with a lease, runs the
steps that are due, and moves ``due`` to the next step. Each step carries the ticket states in which it
still matters: a step whose ticket moved on (signed, replied, re-dispatched) is dropped, not fired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router.clock import as_utc
from router.events import event
from router.messages import OutboundMessage
from router.sla import DeadlineSet
from schemas.v1.vocab import TicketState as S

#: given (ticket, now) → when an agent may call (None: no attempts left)
CallTime = Callable[[dict[str, Any], datetime], datetime | None]

_WITH_DEPT = [S.DISPATCHED.value, S.SIGNED.value]


def _step(name: str, due: datetime | None, states: list[str]) -> dict[str, Any] | None:
    return None if due is None else {"name": name, "due": due, "states": states}


def _chain(
    doc: dict[str, Any], kind: str, steps: list[dict[str, Any] | None], **data: Any
) -> dict[str, Any] | None:
    real = sorted((s for s in steps if s is not None), key=lambda s: s["due"])
    if not real:
        return None
    suffix = f".{data['callback_attempt']}" if "callback_attempt" in data else ""
    return {
        "_id": f"{doc['_id']}.{kind}.{doc.get('attempt', 0)}{suffix}",
        "ticket_id": doc["_id"],
        "kind": kind,
        "attempt": doc.get("attempt", 0),
        "state": "pending",
        "due": real[0]["due"],
        "lease_until": real[0]["due"],
        "next": 0,
        "steps": real,
        "data": data,
    }


def sla_timer(doc: dict[str, Any], d: DeadlineSet) -> dict[str, Any] | None:
    """The SLA chain of a dispatch (sign-off and reply clocks)."""
    return _chain(
        doc,
        "sla",
        [
            _step("sign.warning", d.sign_warn_at, [S.DISPATCHED.value]),
            _step("sign.breach", d.sign_due, [S.DISPATCHED.value]),
            _step("reply.warning", d.reply_warn_at, _WITH_DEPT),
            _step("reply.breach", d.reply_due, _WITH_DEPT),
            _step("reply.circular", d.circular_at, _WITH_DEPT),
        ],
    )


def triage_timer(doc: dict[str, Any], d: DeadlineSet) -> dict[str, Any] | None:
    """The dispatch clock of a ticket waiting for a human routing decision."""
    return _chain(
        doc,
        "triage",
        [
            _step("dispatch.warning", d.dispatch_warn_at, [S.TRIAGE.value]),
            _step("dispatch.breach", d.dispatch_due, [S.TRIAGE.value]),
        ],
    )


def callback_timer(doc: dict[str, Any], *, callback_attempt: int, due: datetime) -> dict[str, Any]:
    """``callback.due`` for attempt ``callback_attempt``; the scheduler moves it into the calling window."""
    chain = _chain(
        doc,
        "callback",
        [_step("callback.due", due, [S.CALLBACK_PENDING.value])],
        callback_attempt=callback_attempt,
    )
    assert chain is not None
    return chain


@dataclass(slots=True)
class Evaluation:
    """What running a claimed timer at ``now`` does."""

    next_index: int
    next_due: datetime | None
    messages: list[OutboundMessage] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    rescheduled: bool = False

    @property
    def done(self) -> bool:
        return self.next_due is None


def evaluate(
    timer: dict[str, Any], ticket: dict[str, Any] | None, now: datetime, *, call_time: CallTime, window: str
) -> Evaluation:
    steps = timer["steps"]
    i = int(timer["next"])
    ev = Evaluation(next_index=i, next_due=None)
    while i < len(steps) and as_utc(steps[i]["due"]) <= now:
        step = steps[i]
        if not _applies(timer, step, ticket):
            ev.dropped.append(step["name"])
            i += 1
            continue
        assert ticket is not None
        if step["name"] == "callback.due":
            call_at = call_time(ticket, now)
            if call_at is None:
                ev.dropped.append(step["name"])
                i += 1
                continue
            if call_at > now:  # outside the calling window: wait for it
                step["due"] = call_at
                ev.rescheduled = True
                break
        ev.messages += step_messages(timer, step, ticket, now, window=window)
        ev.fired.append(step["name"])
        i += 1
    ev.next_index = i
    ev.next_due = as_utc(steps[i]["due"]) if i < len(steps) else None
    return ev


def _applies(timer: dict[str, Any], step: dict[str, Any], ticket: dict[str, Any] | None) -> bool:
    if ticket is None or ticket["state"] not in step["states"]:
        return False
    if int(ticket.get("attempt", 0)) != int(timer["attempt"]):
        return False  # re-dispatched or reopened since: that dispatch has its own timer
    if timer["kind"] == "callback":
        made = int((ticket.get("callback") or {}).get("attempts", 0))
        return made + 1 == int(timer["data"]["callback_attempt"])
    return True


def step_messages(
    timer: dict[str, Any], step: dict[str, Any], ticket: dict[str, Any], now: datetime, *, window: str
) -> list[OutboundMessage]:
    name: str = step["name"]
    due = as_utc(step["due"])
    mid = f"{timer['_id']}.{name}"
    if name == "callback.due":
        phone = (ticket.get("caller") or {}).get("phone")
        return [
            event(
                ticket,
                "callback.due",
                now=now,
                message_id=mid,
                phone=phone,
                attempt=int(timer["data"]["callback_attempt"]),
                window=window,
            )
        ]
    clock, what = name.split(".")
    dept = ticket.get("department") or "triage"
    deadline_key = {"sign": "sign_due", "reply": "reply_due", "dispatch": "dispatch_due"}[clock]
    clock_due = (
        as_utc(ticket["deadlines"][deadline_key]) if ticket.get("deadlines", {}).get(deadline_key) else due
    )
    fields: dict[str, Any] = {
        "clock": clock,
        "due": clock_due,
        "overdue_by": (now - clock_due).total_seconds(),
        "department": dept,
    }
    if what == "warning":
        return [_sla(ticket, "sla.warning", dept, now=now, mid=mid, fields=fields)]
    if what == "breach":
        out = [_sla(ticket, "sla.breach", dept, now=now, mid=mid, fields=fields)]
        if clock == "reply":  # 催办: once per dispatch, with the breach
            out.append(_sla(ticket, "sla.urge", dept, now=now, mid=f"{mid}.urge", fields=fields))
        return out
    return [_sla(ticket, "sla.circular", dept, now=now, mid=mid, fields=fields)]


def _sla(
    ticket: dict[str, Any], kind: Any, dept: str, *, now: datetime, mid: str, fields: dict[str, Any]
) -> OutboundMessage:
    msg = event(ticket, kind, now=now, message_id=mid, **fields)
    return OutboundMessage(
        msg.exchange, f"{kind}.{dept}", msg.message_id, msg.ticket_id, msg.body, msg.headers
    )
