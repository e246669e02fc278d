"""Intake → classify → route → dispatch, end to end on the real broker and database."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from config.settings import Settings
from router.service import Service
from router.simulation import TicketSimulator
from router.tickets import ticket_id_for
from tests.integration.amqp_helpers import Peer, Received, wait_until


def now() -> datetime:
    return datetime.now(UTC)


async def ticket_count(service: Service, **filt: object) -> int:
    assert service.components is not None
    return await service.components.storage.tickets.count_documents(filt)


async def drain_departments(peer: Peer, service: Service, expect: int) -> list[Received]:
    """Read every department queue until ``expect`` distinct dispatches arrived."""
    queues = [peer.names.department_queue(c) for c in service.domain.directory.codes()]
    return await peer.drain_all(queues, expect=expect)


async def test_both_hotlines_routed_exactly_once_and_duplicates_ignored(
    service: Service, peer: Peer, settings: Settings
) -> None:
    sims = TicketSimulator(seed=7, run_id="e2e").stream(200, now())
    assert {s.body["hotline"] for s in sims} == {"12328", "12345"}
    for s in sims:
        await peer.intake(s.body, s.routing_key)
    await wait_until(lambda: _eq(ticket_count(service), 200), timeout=60, what="200 tickets stored")

    # 20 re-sent duplicates change nothing
    for s in sims[:20]:
        await peer.intake(s.body, s.routing_key)
    await wait_until(
        lambda: _ge(service.metrics.intake_duplicates._value.get(), 20), what="20 duplicates seen"
    )
    assert await ticket_count(service) == 200

    assert service.components is not None
    tickets = {t["_id"]: t async for t in service.components.storage.tickets.find({})}
    states = Counter(t["state"] for t in tickets.values())
    assert set(states) <= {"dispatched", "triage", "transferred"}, states
    assert states["dispatched"] > 100, states

    dispatches = await drain_departments(peer, service, states["dispatched"])
    assert len(dispatches) == states["dispatched"], "every dispatched ticket arrives exactly once"
    assert len({d.message_id for d in dispatches}) == len(dispatches)
    for d in dispatches:
        body = d.json
        ticket = tickets[body["ticket_id"]]
        assert ticket["state"] == "dispatched"
        assert d.routing_key == f"dept.{ticket['department']}" == f"dept.{body['department']}"
        assert d.correlation_id == ticket["_id"]
        assert body["schema"] == "hotline.dispatch/v1" and body["kind"] == "new" and body["attempt"] == 1
        assert body["deadlines"]["reply_due"].endswith("+08:00")
        if body.get("caller"):
            assert "****" in body["caller"]["phone"], "departments only ever see masked phones"
        assert [h["to"] for h in ticket["history"]] == ["received", "dispatched"]

    transfers = []
    for h in ("12328", "12345"):
        transfers += await peer.drain(peer.names.transfer_queue(h), timeout=1, quiet=0.2)
    assert len(transfers) == states["transferred"]
    triage = await peer.drain(peer.names.queue("agent.triage"), expect=states["triage"], timeout=5)
    assert len(triage) == states["triage"]

    # the simulated transport tickets on 12345 went to the transport side, 12328 non-transport to 12345
    for s in sims:
        t = tickets[ticket_id_for(s.body["hotline"], s.body["external_id"])]
        if t["state"] != "dispatched":
            continue
        dept = service.domain.directory.department(t["department"])
        if t["classification"]["domain"] == "交通运输":
            assert dept.side.value == "12328", (s.body["content"], t["department"])


async def test_transfer_both_ways(service: Service, peer: Peer) -> None:
    to_12345 = {
        "hotline": "12328",
        "external_id": "X-1",
        "received_at": now().isoformat(),
        "content": "来电人反映济南市历下区某小区供暖温度不达标，家里只有十几度，物业不处理，要求解决",
        "caller": {"phone": "13812345678", "name": "张三"},
    }
    transport_on_12345 = {
        "hotline": "12345",
        "external_id": "X-2",
        "received_at": now().isoformat(),
        "content": "市民反映鲁A12345出租车司机拒载，不打表还辱骂乘客，要求处理",
        "address": "济南市市中区经十路",
    }
    await peer.intake(to_12345)
    await peer.intake(transport_on_12345)
    transfers = await peer.drain(peer.names.transfer_queue("12345"), expect=1, timeout=20)
    assert len(transfers) == 1
    body = transfers[0].json
    assert body["to"] == "12345" and body["hotline"] == "12328" and body["external_id"] == "X-1"
    assert body["ticket"]["content"] == to_12345["content"]
    assert body["ticket"]["caller"]["phone"] == "13812345678", "the other hotline must be able to call back"

    taxi = await peer.drain(peer.names.department_queue("jinan-taxi"), expect=1, timeout=20)
    assert len(taxi) == 1 and taxi[0].json["external_id"] == "X-2"
    assert taxi[0].json["transport"] == "出租汽车"
    assert service.components is not None
    t1 = await service.components.storage.get_ticket(ticket_id_for("12328", "X-1"))
    assert t1 is not None and t1["state"] == "transferred" and t1["transferred_to"] == "12345"


async def test_poison_messages_go_to_dead_letter_queue_with_reason(service: Service, peer: Peer) -> None:
    good = {"hotline": "12345", "external_id": "P-1", "received_at": now().isoformat(), "content": "路灯不亮"}
    await peer.intake(b"{not json", "ticket.12345")
    await peer.intake(
        {"hotline": "12345", "external_id": "P-2", "received_at": now().isoformat()}
    )  # no content
    await peer.intake({**good, "external_id": "P-3", "content": "长" * 300_000})  # oversize
    await peer.intake(good, "ticket.99999")  # unknown routing key (alternate exchange)
    await peer.intake({**good, "external_id": "P-4"}, "ticket.12328")  # hotline mismatch
    await peer.intake({**good, "external_id": "P-5", "received_at": "2026-11-27T10:00:00"})  # no offset
    dead = await peer.drain(peer.names.dead_queue, expect=6, timeout=30)
    reasons = Counter(d.headers["x-error-reason"] for d in dead)
    assert reasons == Counter(
        {
            "malformed_json": 1,
            "schema_violation": 2,
            "oversize": 1,
            "unknown_routing_key": 1,
            "hotline_mismatch": 1,
        }
    ), reasons
    for d in dead:
        assert d.headers["x-error-detail"], "a human-readable detail"
    missing = next(d for d in dead if d.headers["x-error-reason"] == "schema_violation" and b"P-2" in d.body)
    assert "content" in missing.headers["x-error-detail"]
    assert await ticket_count(service) == 0
    assert await peer.queue_depth(peer.names.intake_queue("12345")) == 0


async def test_low_confidence_goes_to_triage_then_agent_decides(service: Service, peer: Peer) -> None:
    vague = {
        "hotline": "12345",
        "external_id": "T-1",
        "received_at": now().isoformat(),
        "content": "你好，我想问一下那个事情现在怎么样了",
        "caller": {"phone": "13900001111"},
    }
    await peer.intake(vague)
    events = await peer.drain(peer.names.queue("agent.triage"), expect=1, timeout=20)
    assert len(events) == 1
    event = events[0].json
    assert event["kind"] == "triage.needed" and event["external_id"] == "T-1"
    tid = event["ticket_id"]
    assert service.components is not None
    doc = await service.components.storage.get_ticket(tid)
    assert doc is not None and doc["state"] == "triage"

    await peer.feedback(
        "agent.triage",
        {
            "ticket_id": tid,
            "at": now().isoformat(),
            "agent": "a01",
            "department": "jinan-12345",
            "domain": "城乡建设",
        },
    )
    got = await peer.drain(peer.names.department_queue("jinan-12345"), expect=1, timeout=20)
    assert len(got) == 1 and got[0].json["ticket_id"] == tid and got[0].json["domain"] == "城乡建设"
    doc = await service.components.storage.get_ticket(tid)
    assert doc is not None and doc["state"] == "dispatched"
    assert doc["history"][-1]["actor"] == "agent:a01"
    label = await service.components.storage.labels.find_one({"ticket_id": tid})
    assert label is not None and label["domain"] == "城乡建设" and label["source"] == "triage"


async def _eq(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]


async def _ge(value: float, expected: int) -> bool:
    return value >= expected


def _json(data: bytes) -> dict[str, object]:
    result: dict[str, object] = json.loads(data)
    return result


async def test_department_and_agent_feedback_through_the_broker(service: Service, peer: Peer) -> None:
    """Sign, reply, callback → closed; a second ticket returned 职能不符 → re-dispatched elsewhere;
    a duplicate feedback message (same message_id) changes nothing."""
    tickets = [
        {
            "hotline": "12328",
            "external_id": f"F-{i}",
            "received_at": now().isoformat(),
            "content": "乘客反映鲁A12345出租车司机拒载，要求处理",
            "address": "济南市历下区泉城路",
            "caller": {"phone": f"1380000000{i}"},
        }
        for i in range(2)
    ]
    for t in tickets:
        await peer.intake(t)
    got = await peer.drain(peer.names.department_queue("jinan-taxi"), expect=2, timeout=20)
    assert len(got) == 2
    first, second = (g.json["ticket_id"] for g in sorted(got, key=lambda g: g.json["external_id"]))
    at = now().isoformat()
    mid = await peer.feedback(
        "dept.jinan-taxi.signed", {"ticket_id": first, "department": "jinan-taxi", "at": at}
    )
    await peer.feedback(
        "dept.jinan-taxi.signed", {"ticket_id": first, "department": "jinan-taxi", "at": at}, message_id=mid
    )  # the same message again
    await peer.feedback(
        "dept.jinan-taxi.replied",
        {
            "ticket_id": first,
            "department": "jinan-taxi",
            "at": at,
            "result": "已约谈司机并处罚",
            "resolved": True,
        },
    )
    await peer.feedback(
        "dept.jinan-taxi.returned",
        {
            "ticket_id": second,
            "department": "jinan-taxi",
            "at": at,
            "reason_code": "职能不符",
            "reason": "属公交公司",
        },
    )
    assert service.components is not None
    storage = service.components.storage

    async def state_is(tid: str, state: str) -> bool:
        doc = await storage.get_ticket(tid)
        return doc is not None and doc["state"] == state

    await wait_until(lambda: state_is(first, "callback_pending"), timeout=20, what="reply recorded")
    doc = await storage.get_ticket(first)
    assert doc is not None and [h["to"] for h in doc["history"]].count("signed") == 1, "duplicate ignored"
    await wait_until(lambda: state_is(second, "dispatched"), timeout=20, what="re-dispatch after the return")
    redone = await storage.get_ticket(second)
    assert redone is not None and redone["department"] != "jinan-taxi" and redone["attempt"] == 2

    await peer.feedback(
        "agent.callback",
        {
            "ticket_id": first,
            "at": now().isoformat(),
            "agent": "a7",
            "outcome": "reached",
            "satisfaction": "满意",
        },
    )
    await wait_until(lambda: state_is(first, "closed"), timeout=20, what="closed after a satisfied callback")
    await peer.feedback(
        "dept.jinan-taxi.signed", {"ticket_id": "T-nope", "department": "jinan-taxi", "at": at}
    )
    dead = await peer.drain(peer.names.dead_queue, expect=1, timeout=20)
    assert [d.headers["x-error-reason"] for d in dead] == ["unknown_ticket"]
