"""What department and agent feedback does to a ticket (pure)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from router.feedback import FeedbackContext, FeedbackRejected, apply_feedback
from schemas.v1.feedback import AgentCallback, AgentTriage, ExtensionRequest, Replied, Returned, Signed
from tests.unit.factories import TZ, deadlines, dispatched, later, router

CTX = FeedbackContext(router=router(), deadlines=deadlines(), tz=TZ)


def doc(**over: Any) -> dict[str, Any]:
    d = dispatched("jinan-taxi").doc
    d.update(over)
    return d


def signed(at: datetime, dept: str = "jinan-taxi") -> Signed:
    return Signed(ticket_id="t", department=dept, at=at)


def returned(
    at: datetime, dept: str = "jinan-taxi", reason: str = "不归我们管", code: str = "职能不符"
) -> Returned:
    return Returned(ticket_id="t", department=dept, at=at, reason_code=code, reason=reason)


def test_sign_on_time_and_late() -> None:
    plan = apply_feedback(doc(), signed(later(2)), now=later(2), ctx=CTX)
    assert plan.doc["state"] == "signed" and plan.doc["signed_on_time"] is True
    assert plan.doc["history"][-1]["actor"] == "department:jinan-taxi"
    late = apply_feedback(doc(), signed(later(24 * 5)), now=later(24 * 5), ctx=CTX)
    assert late.doc["signed_on_time"] is False


def test_only_the_assigned_department_may_act() -> None:
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(doc(), signed(later(1), dept="qingdao-taxi"), now=later(1), ctx=CTX)
    assert err.value.reason == "not_assigned"


def test_reply_schedules_callback_then_satisfied_closes() -> None:
    d = apply_feedback(doc(), signed(later(1)), now=later(1), ctx=CTX).doc
    plan = apply_feedback(
        d,
        Replied(ticket_id="t", department="jinan-taxi", at=later(20), result="已处理", resolved=True),
        now=later(20),
        ctx=CTX,
    )
    assert plan.doc["state"] == "callback_pending" and plan.doc["replied_on_time"] is True
    (timer,) = plan.timers
    assert timer["kind"] == "callback" and timer["data"]["callback_attempt"] == 1
    closed = apply_feedback(
        plan.doc,
        AgentCallback(ticket_id="t", at=later(21), agent="a1", outcome="reached", satisfaction="满意"),
        now=later(21),
        ctx=CTX,
    )
    assert closed.doc["state"] == "closed" and closed.doc["satisfaction"] == "满意"
    assert [m.routing_key for m in closed.messages] == ["ticket.closed"]


def test_dissatisfied_reopens_to_the_same_department() -> None:
    d = apply_feedback(
        doc(),
        Replied(ticket_id="t", department="jinan-taxi", at=later(3), result="已处理", resolved=False),
        now=later(3),
        ctx=CTX,
    ).doc
    plan = apply_feedback(
        d,
        AgentCallback(
            ticket_id="t",
            at=later(4),
            agent="a1",
            outcome="reached",
            satisfaction="不满意",
            comment="司机没有道歉",
        ),
        now=later(4),
        ctx=CTX,
    )
    assert plan.doc["state"] == "dispatched" and plan.doc["attempt"] == 2 and plan.doc["reopened"] == 1
    keys = [m.routing_key for m in plan.messages]
    assert keys == ["ticket.reopened", "dept.jinan-taxi"]
    body = json.loads(plan.messages[1].body)
    assert body["kind"] == "reopen" and body["attempt"] == 2 and "司机没有道歉" in body["history_note"]
    assert [h["to"] for h in plan.doc["history"]][-3:] == ["callback_pending", "reopened", "dispatched"]


def test_three_unanswered_callbacks_close_the_ticket() -> None:
    d = apply_feedback(
        doc(),
        Replied(ticket_id="t", department="jinan-taxi", at=later(3), result="r", resolved=True),
        now=later(3),
        ctx=CTX,
    ).doc
    for i in range(1, 4):
        plan = apply_feedback(
            d,
            AgentCallback(ticket_id="t", at=later(3 + i), agent="a", outcome="no_answer"),
            now=later(3 + i),
            ctx=CTX,
        )
        d = plan.doc
        if i < 3:
            assert d["state"] == "callback_pending" and plan.timers[0]["data"]["callback_attempt"] == i + 1
    assert d["state"] == "closed"


def test_return_reroutes_excluding_the_department_and_records_a_label() -> None:
    plan = apply_feedback(
        doc(),
        returned(later(2), reason="属于公交"),
        now=later(2),
        ctx=CTX,
    )
    assert plan.doc["returned_by"] == ["jinan-taxi"]
    assert plan.doc["state"] == "dispatched" and plan.doc["department"] not in ("jinan-taxi", None)
    (m,) = [m for m in plan.messages if m.routing_key.startswith("dept.")]
    assert json.loads(m.body)["kind"] == "redispatch" and "属于公交" in json.loads(m.body)["history_note"]
    assert plan.labels and plan.labels[0]["not_department"] == "jinan-taxi"
    assert [h["to"] for h in plan.doc["history"]][-2:] == ["returned", "dispatched"]


def test_repeated_returns_go_to_arbitration_not_ping_pong() -> None:
    d = doc()
    for _ in range(5):
        dept = d["department"]
        plan = apply_feedback(
            d,
            returned(later(1), dept=dept),
            now=later(1),
            ctx=CTX,
        )
        d = plan.doc
        if d["state"] == "triage":
            break
    assert d["state"] == "triage" and d["triage"]["rule"] == "arbitration"
    assert len(set(d["returned_by"])) == len(d["returned_by"]) == CTX.router.policy.max_returns


def test_return_after_the_window_is_refused() -> None:
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(
            doc(),
            returned(later(24 * 10), reason="x", code="其他"),
            now=later(24 * 10),
            ctx=CTX,
        )
    assert err.value.reason == "return_window_closed"


def test_extension_limits() -> None:
    d = doc()
    d = apply_feedback(
        d,
        ExtensionRequest(ticket_id="t", department="jinan-taxi", at=later(1), days=6, reason="r"),
        now=later(1),
        ctx=CTX,
    ).doc
    assert (
        d["extensions"][0]["state"] == "pending"
        and d["deadlines"]["reply_due"] == doc()["deadlines"]["reply_due"]
    )
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(
            d,
            ExtensionRequest(ticket_id="t", department="jinan-taxi", at=later(2), days=5, reason="r"),
            now=later(2),
            ctx=CTX,
        )
    assert err.value.reason == "extension_limit"
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(
            doc(),
            ExtensionRequest(ticket_id="t", department="jinan-taxi", at=later(24 * 30), days=1, reason="r"),
            now=later(24 * 30),
            ctx=CTX,
        )
    assert err.value.reason == "extension_too_late"


def test_triage_decision_dispatches_or_transfers() -> None:
    d = doc(state="triage", department=None, attempt=0)
    plan = apply_feedback(
        d,
        AgentTriage(ticket_id="t", at=later(1), agent="a9", department="jinan-transit", transport="公交"),
        now=later(1),
        ctx=CTX,
    )
    assert plan.doc["state"] == "dispatched" and plan.doc["department"] == "jinan-transit"
    assert plan.doc["classification"]["transport"] == "公交" and plan.labels[0]["transport"] == "公交"
    moved = apply_feedback(
        doc(state="triage", department=None),
        AgentTriage(ticket_id="t", at=later(1), agent="a9", transfer_to="12345"),
        now=later(1),
        ctx=CTX,
    )
    assert moved.doc["state"] == "transferred" and moved.messages[0].routing_key == "transfer.12345"
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(
            d,
            AgentTriage(ticket_id="t", at=later(1), agent="a9", department="nowhere"),
            now=later(1),
            ctx=CTX,
        )
    assert err.value.reason == "unknown_department"


def test_a_sign_overtaken_by_the_same_departments_reply_is_absorbed() -> None:
    """Departments send 签收 and 办结 close together; when the reply is processed first (it implies the
    sign), the late sign changes no state and is not dead-lettered, but its time is the sign time."""
    reply = Replied(ticket_id="t", department="jinan-taxi", at=later(3), result="已处理", resolved=True)
    answered = apply_feedback(doc(), reply, now=later(3), ctx=CTX).doc
    assert answered["state"] == "callback_pending" and answered["signed_at"] == later(3)
    late = apply_feedback(answered, signed(later(1)), now=later(3), ctx=CTX)
    assert late.doc["state"] == "callback_pending"
    assert late.doc["history"] == answered["history"] and not late.messages and not late.timers
    assert late.doc["signed_at"] == later(1) and late.doc["signed_on_time"] is True
    # the database keeps milliseconds: a sign within the millisecond of the stored reply time counts
    stored = {**answered, "reply": {**answered["reply"], "at": later(3).replace(microsecond=0)}}
    just_before = later(3).replace(microsecond=400)
    assert (
        apply_feedback(stored, signed(just_before), now=later(3), ctx=CTX).doc["state"] == "callback_pending"
    )
    # a sign dated after the reply is not that: it is an illegal transition as before
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(answered, signed(later(4)), now=later(4), ctx=CTX)
    assert err.value.reason == "illegal_transition"
    # nor is a sign from another department
    with pytest.raises(FeedbackRejected):
        apply_feedback(answered, signed(later(1), dept="qingdao-taxi"), now=later(4), ctx=CTX)


def test_feedback_on_a_closed_ticket_is_an_illegal_transition() -> None:
    with pytest.raises(FeedbackRejected) as err:
        apply_feedback(doc(state="closed"), signed(later(1)), now=later(1), ctx=CTX)
    assert err.value.reason == "illegal_transition"


def test_the_department_that_accepts_a_returned_ticket_labels_its_domain() -> None:
    after_return = apply_feedback(doc(), returned(later(2)), now=later(2), ctx=CTX).doc
    assert after_return["relabel_on_sign"] is True
    # re-routed, and now accepted by a single-domain bureau: its domain is the label
    at_housing = {**after_return, "department": "jinan-housing"}
    plan = apply_feedback(at_housing, signed(later(3), dept="jinan-housing"), now=later(3), ctx=CTX)
    assert "relabel_on_sign" not in plan.doc
    (label,) = plan.labels
    assert label["source"] == "return_resolved" and label["department"] == "jinan-housing"
    assert label["domain"] == "城乡建设" and label["transport"] is None
    assert label["classified_domain"] == after_return["classification"]["domain"]
    assert label["content"] == after_return["content"]
    # an ordinary sign records nothing
    assert apply_feedback(doc(), signed(later(2)), now=later(2), ctx=CTX).labels == []


def test_a_general_office_accepting_a_returned_ticket_records_no_label() -> None:
    marked = doc(relabel_on_sign=True, department="jinan-12345")
    plan = apply_feedback(marked, signed(later(3), dept="jinan-12345"), now=later(3), ctx=CTX)
    assert plan.labels == [] and "relabel_on_sign" not in plan.doc
