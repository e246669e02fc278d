"""Timer chains: what fires when, and what is dropped when the ticket moved on (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from router.timers import callback_timer, evaluate
from tests.unit.factories import dispatched

WINDOW = "09:00-20:00"


def always_now(ticket: dict[str, Any], now: datetime) -> datetime | None:
    return now


def chain() -> tuple[dict[str, Any], dict[str, Any]]:
    plan = dispatched("jinan-taxi")
    (timer,) = plan.timers
    return timer, plan.doc


def at(step: dict[str, Any], delta: timedelta = timedelta(0)) -> datetime:
    due: datetime = step["due"]
    return due.astimezone(UTC) + delta


def test_sign_warning_fires_once_at_80_percent() -> None:
    timer, ticket = chain()
    now = at(timer["steps"][0])
    early = evaluate(timer, ticket, now - timedelta(seconds=1), call_time=always_now, window=WINDOW)
    assert early.fired == [] and early.next_index == 0
    ev = evaluate(timer, ticket, now, call_time=always_now, window=WINDOW)
    assert ev.fired == ["sign.warning"] and ev.next_index == 1 and ev.next_due == timer["steps"][1]["due"]
    (m,) = ev.messages
    assert m.routing_key == "sla.warning.jinan-taxi" and m.message_id == f"{timer['_id']}.sign.warning"
    body = json.loads(m.body)
    assert body["clock"] == "sign" and body["overdue_by"] < 0


def test_signed_ticket_drops_sign_steps_and_reply_breach_urges() -> None:
    timer, ticket = chain()
    ticket = {**ticket, "state": "signed"}
    breach_step = next(s for s in timer["steps"] if s["name"] == "reply.breach")
    ev = evaluate(timer, ticket, at(breach_step, timedelta(minutes=1)), call_time=always_now, window=WINDOW)
    assert ev.dropped == ["sign.warning", "sign.breach"]
    assert ev.fired == ["reply.warning", "reply.breach"]
    assert [m.routing_key for m in ev.messages] == [
        "sla.warning.jinan-taxi",
        "sla.breach.jinan-taxi",
        "sla.urge.jinan-taxi",
    ]
    assert json.loads(ev.messages[-1].body)["overdue_by"] == 60
    assert not ev.done and ev.next_due is not None  # the circular is still ahead


def test_replied_or_redispatched_ticket_drops_everything() -> None:
    timer, ticket = chain()
    end = at(timer["steps"][-1], timedelta(days=1))
    for moved in ({**ticket, "state": "callback_pending"}, {**ticket, "attempt": 2}, None):
        ev = evaluate(timer, moved, end, call_time=always_now, window=WINDOW)
        assert ev.fired == [] and len(ev.dropped) == 5 and ev.done


def test_circular_after_more_than_five_working_days_overdue() -> None:
    timer, ticket = chain()
    circ = timer["steps"][-1]
    assert circ["name"] == "reply.circular"
    reply_due = ticket["deadlines"]["reply_due"]
    assert (circ["due"] - reply_due) >= timedelta(days=5)
    ev = evaluate({**timer, "next": 4}, ticket, at(circ), call_time=always_now, window=WINDOW)
    assert [m.routing_key for m in ev.messages] == ["sla.circular.jinan-taxi"] and ev.done


def test_callback_waits_for_the_calling_window() -> None:
    _, ticket = chain()
    ticket = {**ticket, "state": "callback_pending", "callback": {"attempts": 0, "results": []}}
    night = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    timer = callback_timer(ticket, callback_attempt=1, due=night)
    morning = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

    ev = evaluate(timer, ticket, night, call_time=lambda t, n: morning, window=WINDOW)
    assert ev.fired == [] and ev.rescheduled and ev.next_due == morning
    ev = evaluate(timer, ticket, morning, call_time=lambda t, n: n, window=WINDOW)
    assert ev.fired == ["callback.due"]
    body = json.loads(ev.messages[0].body)
    assert body["phone"] == "13812345678" and body["attempt"] == 1 and body["window"] == WINDOW
    stale = {**ticket, "callback": {"attempts": 1, "results": []}}  # attempt 1 already made
    assert evaluate(timer, stale, morning, call_time=always_now, window=WINDOW).dropped == ["callback.due"]


def test_recomputed_chain_keeps_fired_steps_and_moves_the_rest() -> None:
    from router.recompute import rechained

    old, _ = chain()
    old = {**old, "next": 2}  # sign warning and breach already ran
    new = {**old, "next": 0, "steps": [{**s, "due": s["due"] + timedelta(days=2)} for s in old["steps"]]}
    merged = rechained(old, new)
    assert merged["next"] == 2
    assert merged["steps"][:2] == old["steps"][:2]
    assert merged["steps"][2:] == new["steps"][2:]
    assert merged["due"] == new["steps"][2]["due"] and merged["state"] == "pending"
