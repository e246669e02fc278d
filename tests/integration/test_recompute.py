"""Provisional deadlines (a year without a published schedule) are recomputed when the data arrives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.settings import PACKAGED_CONFIG_DIR
from config.sla import load_sla_policy
from router.calendar import CalendarOverrides, WorkCalendar
from router.clock import ManualClock
from router.domain import PolicyDeadlines
from router.intake import plan_new_ticket
from router.recompute import recompute_provisional
from router.routing import RouteDecision
from router.storage import Storage, connect
from schemas.v1.vocab import Hotline, RouteAction, TicketType, Urgency
from tests.unit.factories import classification, intake

TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 12, 28, 10, 0, tzinfo=TZ)  # Monday; 5 working days reach into 2027


@pytest.fixture
async def storage(mongo_url: str) -> AsyncIterator[Storage]:
    client = connect(mongo_url)
    db = client[f"t_{uuid.uuid4().hex[:10]}"]
    s = Storage(db)
    await s.ensure_indexes()
    yield s
    await client.drop_database(db.name)
    await client.close()


def calendars() -> tuple[WorkCalendar, WorkCalendar]:
    """Before: what the package knows (2027 unknown). After: 2027 published, with 4–5 Jan off."""
    before = WorkCalendar.from_package(TZ)
    published = CalendarOverrides.model_validate(
        {
            "years": {
                2027: {"complete": True, "holidays": [date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 5)]}
            }
        }
    )
    return before, before.with_overrides(published)


async def test_open_ticket_with_provisional_deadline_is_recomputed_and_its_timer_moves(
    storage: Storage,
) -> None:
    policy = load_sla_policy(PACKAGED_CONFIG_DIR)
    before, after = calendars()
    old = PolicyDeadlines(policy, before)
    d = old.for_dispatch(
        at=RECEIVED, type=TicketType.COMPLAINT, urgency=Urgency.NORMAL, hotline=Hotline.H12345
    )
    assert d.provisional and d.reply_due is not None
    route = RouteDecision(RouteAction.DISPATCH, "jinan-12345", None, "domain-area", "test")
    plan = plan_new_ticket(
        intake(hotline="12345", external_id="R-1"), classification(), route, d, now=RECEIVED, tz=TZ
    )
    closed = plan_new_ticket(
        intake(hotline="12345", external_id="R-2"), classification(), route, d, now=RECEIVED, tz=TZ
    )
    closed.doc["state"] = "closed"
    await storage.insert_tickets([plan.doc, closed.doc])
    await storage.add_timers(plan.timers)

    n = await recompute_provisional(
        storage,
        PolicyDeadlines(policy, after),
        calendar_version=after.version,
        clock=ManualClock(RECEIVED + timedelta(hours=1)),
    )
    assert n == 1, "only the open ticket"
    doc = await storage.get_ticket(plan.doc["_id"])
    assert doc is not None
    assert doc["deadlines"]["provisional"] is False and doc["deadlines"]["calendar_version"] == after.version
    new_due = doc["deadlines"]["reply_due"].astimezone(TZ)
    assert new_due > d.reply_due.astimezone(TZ), "the published holidays push the deadline out"
    assert new_due.date() == date(2027, 1, 7)  # 29, 30, 31 Dec, 6, 7 Jan
    timer = await storage.timers.find_one({"ticket_id": plan.doc["_id"]})
    assert timer is not None
    breach = next(s for s in timer["steps"] if s["name"] == "reply.breach")
    assert breach["due"] == doc["deadlines"]["reply_due"]
    # a second pass changes nothing
    assert (
        await recompute_provisional(
            storage,
            PolicyDeadlines(policy, after),
            calendar_version=after.version,
            clock=ManualClock(RECEIVED),
        )
        == 0
    )
