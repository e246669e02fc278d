"""``kpi_rollups`` against the real MongoDB-protocol server: upserted increments, rebuild, summary."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from router.rollup_store import RollupStore
from router.rollups import RollupInc, merge_incs, rollup_changes
from tests.unit.test_rollups import T0, TZ, Ticket

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
DAY0 = date(2025, 3, 3)


@pytest.fixture
async def db(mongo_url: str) -> AsyncIterator[AsyncDatabase[Doc]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True, tzinfo=UTC)
    name = f"t_rollups_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_apply_upserts_and_two_applies_add_up(db: AsyncDatabase[Doc]) -> None:
    store = RollupStore(db["kpi_rollups"])
    await store.ensure_indexes()
    batch = [
        RollupInc("jinan-taxi", DAY0, "12345", "received"),
        RollupInc("jinan-taxi", DAY0, "12345", "dispatched"),
        RollupInc("jinan-taxi", DAY0, "12345", "received"),
        RollupInc("-", DAY0, "12328", "triaged"),
    ]
    await store.apply(batch)
    await store.apply(batch[:1])
    doc = await store.get("jinan-taxi", DAY0, "12345")
    assert doc == {
        "_id": "jinan-taxi|2025-03-03|12345",
        "department": "jinan-taxi",
        "day": "2025-03-03",
        "hotline": "12345",
        "received": 3,
        "dispatched": 1,
    }
    assert await db["kpi_rollups"].count_documents({}) == 2
    await store.apply([])  # nothing to do is not an error


def _population() -> list[Ticket]:
    """A handful of tickets with different lives, over two local days."""
    day1 = T0 + timedelta(days=1)
    a = Ticket().dispatch("jinan-taxi", T0, sign_h=1, reply_h=48)
    a.commit()
    a.sign(T0 + timedelta(minutes=30))
    a.commit()
    a.reply(T0 + timedelta(hours=6))
    a.commit()
    a.callback(T0 + timedelta(hours=7), "reached", "满意")
    a.commit()

    b = Ticket().dispatch("jinan-taxi", T0, sign_h=1)
    b.commit()
    b.returned(T0 + timedelta(hours=3), "职能不符").dispatch("jinan-bus", T0 + timedelta(hours=3))
    b.commit()
    b.extension(day1)
    b.commit()
    b.reply(day1 + timedelta(hours=2))
    b.commit()
    b.callback(day1 + timedelta(hours=3), "reached", "不满意")
    b.commit()

    c = Ticket(at=day1).triage(day1)
    c.commit()
    c.dispatch("jinan-bus", day1 + timedelta(hours=1))
    c.commit()

    d = Ticket(at=day1).transfer(day1)
    d.commit()
    return [a, b, c, d]


async def _store_incrementally(db: AsyncDatabase[Doc], store: RollupStore, tickets: list[Ticket]) -> None:
    for n, t in enumerate(tickets):
        t.doc["_id"] = f"T12345-{n}"
        await db["tickets"].insert_one(t.doc)
        await store.apply(
            merge_incs(i for before, after in t.steps for i in rollup_changes(before, after, tz=TZ))
        )


async def _snapshot(db: AsyncDatabase[Doc]) -> dict[str, Doc]:
    return {d["_id"]: {k: v for k, v in d.items() if k != "rebuild"} async for d in db["kpi_rollups"].find()}


async def test_rebuild_from_tickets_equals_the_incremental_rollups(db: AsyncDatabase[Doc]) -> None:
    store = RollupStore(db["kpi_rollups"])
    await _store_incrementally(db, store, _population())
    incremental = await _snapshot(db)
    # a stale document no ticket explains, and a wrong counter: rebuild removes / corrects them
    await store.apply([RollupInc("ghost", DAY0, "12345", "received", 7)])
    await store.apply([RollupInc("jinan-taxi", DAY0, "12345", "received", 5)])

    assert await store.rebuild(db["tickets"], tz=TZ) == 4
    assert await _snapshot(db) == incremental
    assert await store.rebuild(db["tickets"], tz=TZ) == 4  # idempotent
    assert await _snapshot(db) == incremental


async def test_summary_by_department_hotline_and_day(db: AsyncDatabase[Doc]) -> None:
    store = RollupStore(db["kpi_rollups"])
    await store.ensure_indexes()
    await _store_incrementally(db, store, _population())
    # outside the range: must not count
    await store.apply([RollupInc("jinan-taxi", DAY0 + timedelta(days=10), "12345", "received", 100)])

    rows = await store.summary(frm=DAY0, to=DAY0 + timedelta(days=1), group_by="department")
    by = {r["department"]: r for r in rows}
    assert [r["department"] for r in rows] == ["-", "jinan-bus", "jinan-taxi"]

    taxi = by["jinan-taxi"]
    assert taxi["received"] == 2 and taxi["dispatched"] == 2
    assert taxi["signed_on_time_pct"] == 100.0  # a signed in 30 min; b never signed at the taxi company
    assert taxi["return_rate_pct"] == 50.0
    assert taxi["dispatch_accuracy_pct"] == 50.0
    assert taxi["satisfaction_pct"] == 100.0 and taxi["callback_rate_pct"] == 100.0
    assert taxi["median_reply_work_hours"] == 5.0  # one reply after 6 h, in the (2, 8] bucket
    assert taxi["counts"]["closed"] == 1

    bus = by["jinan-bus"]
    assert bus["received"] == 0 and bus["dispatched"] == 3  # b re-dispatched, b reopened, c from triage
    assert bus["extension_rate_pct"] == round(100 / 3, 1)
    assert bus["satisfaction_pct"] == 0.0 and bus["reopened"] == 1
    assert bus["signed_on_time_pct"] is None or bus["signed_on_time_pct"] >= 0

    none = by["-"]
    assert none["received"] == 2 and none["counts"]["triaged"] == 1 and none["counts"]["transferred"] == 1

    hotlines = await store.summary(frm=DAY0, to=DAY0 + timedelta(days=1), group_by="hotline")
    assert [(r["hotline"], r["received"], r["dispatched"]) for r in hotlines] == [("12345", 4, 5)]

    days = await store.summary(frm=DAY0, to=DAY0 + timedelta(days=30), group_by="day")
    assert [(r["day"], r["received"]) for r in days] == [
        ("2025-03-03", 2),
        ("2025-03-04", 2),
        ("2025-03-13", 100),
    ]

    only_bus = await store.summary(frm=DAY0, to=DAY0, group_by="day", department="jinan-bus")
    assert [(r["day"], r["dispatched"]) for r in only_bus] == [("2025-03-03", 1)]


async def test_summary_of_an_empty_range_is_empty(db: AsyncDatabase[Doc]) -> None:
    store = RollupStore(db["kpi_rollups"])
    assert await store.summary(frm=DAY0, to=DAY0, group_by="department") == []
    with pytest.raises(ValueError, match="group_by"):
        await store.summary(frm=DAY0, to=DAY0, group_by="type")
