"""Parsing intake and planning a new ticket: pure, no broker or database."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from router.intake import parse_intake, plan_new_ticket
from router.lifecycle import IllegalTransition, transition
from router.messages import Exchange, InboundMessage, Outcome, Verdict
from router.routing import RouteDecision
from schemas.v1.vocab import Hotline, RouteAction, TicketState
from tests.unit.factories import T0, TZ, classification, deadlines, dispatched, intake


def msg(body: object, key: str = "ticket.12328") -> InboundMessage:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return InboundMessage(body=data, routing_key=key)


GOOD = {
    "hotline": "12328",
    "external_id": "A1",
    "received_at": "2026-11-27T09:00:00+08:00",
    "content": "拒载",
}


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"{oops", "ticket.12328", "malformed_json"),
        ({**GOOD, "content": ""}, "ticket.12328", "schema_violation"),
        ({k: v for k, v in GOOD.items() if k != "external_id"}, "ticket.12328", "schema_violation"),
        ({**GOOD, "received_at": "2026-11-27T09:00:00"}, "ticket.12328", "schema_violation"),
        ({**GOOD, "hotline": "12306"}, "ticket.12328", "schema_violation"),
        (GOOD, "ticket.12306", "unknown_routing_key"),
        (GOOD, "ticket.12345", "hotline_mismatch"),
        ({**GOOD, "content": "长" * 200_000}, "ticket.12328", "oversize"),
    ],
)
def test_bad_intake_is_rejected_with_a_reason(body: object, key: str, reason: str) -> None:
    result = parse_intake(msg(body, key), max_body_bytes=256 * 1024)
    assert isinstance(result, Outcome)
    assert result.verdict is Verdict.REJECT and result.reason == reason
    assert result.detail


def test_unknown_fields_are_kept_not_rejected() -> None:
    result = parse_intake(msg({**GOOD, "agent_seat": "A-17"}), max_body_bytes=1 << 20)
    assert not isinstance(result, Outcome)
    assert result.intake.extra == {"agent_seat": "A-17"}
    assert result.ticket_id == parse_intake(msg(GOOD), max_body_bytes=1 << 20).ticket_id  # type: ignore[union-attr]


def test_dispatch_plan_records_history_deadlines_outbox_and_timers() -> None:
    plan = dispatched("jinan-taxi")
    doc = plan.doc
    assert doc["state"] == "dispatched" and doc["department"] == "jinan-taxi" and doc["attempt"] == 1
    assert [h["to"] for h in doc["history"]] == ["received", "dispatched"]
    assert doc["history"][1]["from"] == "received" and doc["history"][1]["actor"] == "router"
    assert len(plan.messages) == 1
    m = plan.messages[0]
    assert m.exchange is Exchange.DISPATCH and m.routing_key == "dept.jinan-taxi"
    assert doc["outbox_ids"] == [m.message_id] == [f"{doc['_id']}.dispatch.1"]
    body = json.loads(m.body)
    assert body["caller"] == {"name": "张*", "phone": "138****5678"}
    assert body["deadlines"]["reply_due"].endswith("+08:00")
    # 投诉 一般 received Monday 10:00 → counted from Tuesday, 5 working days → Monday 23:59:59
    assert body["deadlines"]["reply_due"] == "2026-11-30T23:59:59+08:00"
    assert doc["deadlines"]["policy_version"] and doc["deadlines"]["calendar_version"]
    (timer,) = plan.timers
    assert timer["kind"] == "sla" and [s["name"] for s in timer["steps"]] == [
        "sign.warning",
        "sign.breach",
        "reply.warning",
        "reply.breach",
        "reply.circular",
    ]


def test_whistleblower_and_confidential_callers_are_hidden_from_departments() -> None:
    plan = dispatched(caller={"name": "李四", "phone": "13900001111", "confidential": True})
    assert json.loads(plan.messages[0].body)["caller"] is None
    report = plan_new_ticket(
        intake(),
        classification(type="举报"),
        RouteDecision(RouteAction.DISPATCH, "jinan-taxi", None, "r", "x"),
        deadlines().for_dispatch(
            at=T0,
            type="举报",
            urgency="一般",  # type: ignore[arg-type]
            hotline=Hotline.H12328,
        ),
        now=T0.astimezone(UTC),
        tz=TZ,
    )
    assert json.loads(report.messages[0].body)["caller"] is None


def test_transfer_carries_the_whole_ticket_with_caller() -> None:
    route = RouteDecision(RouteAction.TRANSFER, None, Hotline.H12345, "12328-non-transport", "非交通事项")
    plan = plan_new_ticket(
        intake(),
        classification(domain="城乡建设", transport=None),
        route,
        None,
        now=T0.astimezone(UTC),
        tz=TZ,
    )
    assert plan.doc["state"] == "transferred"
    (m,) = plan.messages
    assert m.routing_key == "transfer.12345"
    body = json.loads(m.body)
    assert body["to"] == "12345" and body["ticket"]["caller"]["phone"] == "13812345678"
    assert body["ticket"]["classification"]["domain"] == "城乡建设"


def test_triage_plan_emits_triage_needed_and_a_dispatch_clock() -> None:
    route = RouteDecision(RouteAction.TRIAGE, None, None, "low-confidence", "置信度低")
    d = deadlines().for_triage(received_at=T0, hotline=Hotline.H12328)
    plan = plan_new_ticket(intake(), classification(), route, d, now=T0.astimezone(UTC), tz=TZ)
    assert plan.doc["state"] == "triage"
    (m,) = plan.messages
    assert m.routing_key == "triage.needed" and json.loads(m.body)["reason"] == "置信度低"
    (timer,) = plan.timers
    assert timer["kind"] == "triage"
    assert timer["steps"][-1]["due"] == d.dispatch_due == T0 + (d.dispatch_due - T0)  # type: ignore[operator]
    assert (d.dispatch_due - T0).total_seconds() == 2 * 3600  # type: ignore[operator]


def test_illegal_transitions_are_errors() -> None:
    with pytest.raises(IllegalTransition, match="closed → dispatched"):
        transition("T1", TicketState.CLOSED, TicketState.DISPATCHED, at=T0, actor="x", reason="y")
    with pytest.raises(IllegalTransition):
        transition("T1", None, TicketState.DISPATCHED, at=T0, actor="x", reason="y")
