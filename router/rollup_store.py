"""KPI rollups, storage part: ``kpi_rollups`` documents, one per department × local day × hotline.

Document: ``{_id: "<department>|<YYYY-MM-DD>|<hotline>", department, day: "YYYY-MM-DD", hotline,
<counter>: n, ...}`` with the counters of ``router.rollups.FIELDS``. A batch of changes costs one
``bulk_write`` (one upsert per distinct key); the SLA summary is one aggregation over the day range,
never a scan of the tickets (DESIGN §9).

Increments are applied after the ticket write that caused them, so a crash in between loses them (never
doubles them); ``rebuild`` recomputes everything from the tickets' histories.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from router.rollups import FIELDS, RollupInc, WorkSeconds, kpis, merge_incs, rollup_changes, rollup_id

log = structlog.get_logger("rollups")

Doc = dict[str, Any]
GroupBy = Literal["department", "hotline", "day"]

#: the ticket fields ``rollup_changes`` reads (rebuild streams only these)
TICKET_PROJECTION: dict[str, int] = {
    "hotline": 1,
    "received_at": 1,
    "department": 1,
    "history": 1,
    "extensions": 1,
    "callback.results": 1,
    "signed_on_time": 1,
    "replied_on_time": 1,
}
_WRITE_CHUNK = 1000


class RollupStore:
    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._coll = collection

    async def ensure_indexes(self) -> None:
        await self._coll.create_indexes(
            [IndexModel([("day", ASCENDING), ("department", ASCENDING)], name="day_department")]
        )

    async def apply(self, incs: Sequence[RollupInc]) -> None:
        """Add the increments: one unordered ``bulk_write``, one upsert per distinct rollup document."""
        by_key: dict[str, tuple[RollupInc, dict[str, int]]] = {}
        for inc in incs:
            if not inc.n:
                continue
            _, counters = by_key.setdefault(inc.key, (inc, {}))
            counters[inc.field] = counters.get(inc.field, 0) + inc.n
        ops = [
            UpdateOne(
                {"_id": key},
                {
                    "$inc": counters,
                    "$setOnInsert": {
                        "department": first.department,
                        "day": first.day.isoformat(),
                        "hotline": first.hotline,
                    },
                },
                upsert=True,
            )
            for key, (first, counters) in by_key.items()
            if any(counters.values())
        ]
        if ops:
            await self._coll.bulk_write(ops, ordered=False)

    async def rebuild(
        self, tickets: AsyncCollection[Doc], *, tz: ZoneInfo, work_seconds: WorkSeconds | None = None
    ) -> int:
        """Recompute every rollup from the tickets (each history replayed from the start); returns how
        many tickets were replayed. Rollups of keys no ticket produces any more are deleted.

        The new documents replace the old ones key by key, so readers never see an empty collection;
        changes stored while the scan runs may be missed or counted twice — rebuild with the consumers
        stopped (``serve --role api``) for exact figures.
        """
        totals: dict[str, tuple[RollupInc, dict[str, int]]] = {}
        replayed = 0
        async for doc in tickets.find({}, TICKET_PROJECTION, batch_size=_WRITE_CHUNK):
            replayed += 1
            for inc in rollup_changes(None, doc, tz=tz, work_seconds=work_seconds):
                _, counters = totals.setdefault(inc.key, (inc, {}))
                counters[inc.field] = counters.get(inc.field, 0) + inc.n
        stamp = uuid.uuid4().hex
        ops: list[ReplaceOne[Doc]] = []
        for key, (first, counters) in totals.items():
            replacement: Doc = {
                "department": first.department,
                "day": first.day.isoformat(),
                "hotline": first.hotline,
                "rebuild": stamp,
                **{f: n for f, n in counters.items() if n},
            }
            ops.append(ReplaceOne({"_id": key}, replacement, upsert=True))
            if len(ops) >= _WRITE_CHUNK:
                await self._coll.bulk_write(ops, ordered=False)
                ops = []
        if ops:
            await self._coll.bulk_write(ops, ordered=False)
        await self._coll.delete_many({"rebuild": {"$ne": stamp}})
        return replayed

    async def get(self, department: str, day: date, hotline: str) -> Doc | None:
        """One rollup document (tests, debugging)."""
        return await self._coll.find_one({"_id": rollup_id(department, day, hotline)})

    async def summary(
        self,
        *,
        frm: date,
        to: date,
        group_by: GroupBy,
        department: str | None = None,
    ) -> list[dict[str, Any]]:
        """DESIGN §8's KPIs for local days ``frm``..``to`` (inclusive), one row per group, sorted by the
        group key. Each row: the group key, ``counts`` (every summed counter) and the KPIs of
        ``router.rollups.kpis``. Open-overdue counts come from open tickets, not from here."""
        if group_by not in ("department", "hotline", "day"):
            raise ValueError(f"group_by must be department, hotline or day, not {group_by!r}")
        match: Doc = {"day": {"$gte": frm.isoformat(), "$lte": to.isoformat()}}
        if department is not None:
            match["department"] = department
        group: Doc = {"_id": f"${group_by}", **{f: {"$sum": f"${f}"} for f in FIELDS}}
        cursor = await self._coll.aggregate([{"$match": match}, {"$group": group}])
        rows: list[dict[str, Any]] = []
        async for g in cursor:
            counts = {f: int(g.get(f) or 0) for f in FIELDS}
            rows.append({group_by: g["_id"], **kpis(counts), "counts": counts})
        rows.sort(key=lambda r: str(r[group_by]))
        return rows


class RollupBuffer:
    """Collects rollup increments from the write paths and applies them in one bulk write per interval.

    Rollups are derived data: taking them off the per-batch hot path turns ~1 upsert per distinct
    (department, day, hotline) per batch into ~1 per interval. Increments buffered when a process dies
    are lost; ``hotline-router rollups rebuild`` recomputes everything from the tickets.
    """

    def __init__(self, store: RollupStore) -> None:
        self._store = store
        self._pending: list[RollupInc] = []

    def add(self, incs: Iterable[RollupInc]) -> None:
        self._pending.extend(incs)

    async def flush(self) -> int:
        pending, self._pending = self._pending, []
        merged = merge_incs(pending)
        if merged:
            try:
                await self._store.apply(merged)
            except PyMongoError as exc:  # derived data: logged, repaired by `rollups rebuild`
                log.warning("rollup_flush_failed", increments=len(merged), error=repr(exc))
        return len(merged)

    async def run_forever(self, interval_s: float = 1.0) -> None:
        try:
            while True:
                await asyncio.sleep(interval_s)
                await self.flush()
        finally:
            await self.flush()
