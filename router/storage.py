"""MongoDB storage through PyMongo's async API (``AsyncMongoClient``; motor is end-of-life).

Collections (DESIGN §3): ``tickets`` (unique ``hotline``+``external_id``), ``outbox``, ``timers``,
``audit``, ``kpi_rollups``, ``labels``. Indexes are created idempotently at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, PyMongoError, WTimeoutError

from router.messages import OutboundMessage

Doc = dict[str, Any]

#: errors worth retrying: the server is unreachable or stepped down, not that our write was wrong
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (AutoReconnect, ConnectionFailure, WTimeoutError)
DUPLICATE_KEY = 11000


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")


def connect(url: str, *, app_name: str = "hotline-router", timeout_ms: int = 5000) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


@dataclass(frozen=True, slots=True)
class InsertResult:
    inserted: list[str]
    duplicates: list[str]


class Storage:
    """The collections and the handful of write shapes the service needs."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.tickets: AsyncCollection[Doc] = db["tickets"]
        self.outbox: AsyncCollection[Doc] = db["outbox"]
        self.timers: AsyncCollection[Doc] = db["timers"]
        self.audit: AsyncCollection[Doc] = db["audit"]
        self.rollups: AsyncCollection[Doc] = db["kpi_rollups"]
        self.labels: AsyncCollection[Doc] = db["labels"]

    async def ensure_indexes(self) -> None:
        # kept to what the service queries: every index costs each insert on the intake hot path
        await self.tickets.create_indexes(
            [
                IndexModel(
                    [("hotline", ASCENDING), ("external_id", ASCENDING)],
                    unique=True,
                    name="hotline_external_id",
                ),
                IndexModel([("state", ASCENDING), ("department", ASCENDING)], name="state_department"),
                IndexModel([("caller_key", ASCENDING)], name="caller_key"),
            ]
        )
        await self.outbox.create_indexes(
            [IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="state_created")]
        )
        await self.timers.create_indexes(
            [
                IndexModel([("state", ASCENDING), ("due", ASCENDING)], name="state_due"),
                IndexModel([("ticket_id", ASCENDING)], name="ticket"),
            ]
        )
        await self.audit.create_indexes([IndexModel([("at", DESCENDING)], name="at")])
        await self.labels.create_indexes([IndexModel([("at", DESCENDING)], name="at")])

    async def ping(self) -> None:
        await self.db.command("ping")

    # --- tickets -------------------------------------------------------------------------------

    async def insert_tickets(self, docs: Sequence[Doc]) -> InsertResult:
        """Insert a batch in one round trip; documents whose (hotline, external_id) exists are reported
        as duplicates rather than raised: redelivery and re-sent orders are not errors."""
        if not docs:
            return InsertResult([], [])
        try:
            await self.tickets.insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            dup_idx = {e["index"] for e in errors}
            return InsertResult(
                [d["_id"] for i, d in enumerate(docs) if i not in dup_idx],
                [d["_id"] for i, d in enumerate(docs) if i in dup_idx],
            )
        return InsertResult([d["_id"] for d in docs], [])

    async def get_ticket(self, ticket_id: str) -> Doc | None:
        return await self.tickets.find_one({"_id": ticket_id})

    async def replace_ticket(self, doc: Doc, *, expected_version: int) -> bool:
        """Store a changed ticket only if nobody changed it since it was read (optimistic concurrency)."""
        new = dict(doc)
        new["version"] = expected_version + 1
        result = await self.tickets.replace_one({"_id": doc["_id"], "version": expected_version}, new)
        if result.matched_count:
            doc["version"] = new["version"]
        return bool(result.matched_count)

    async def add_timers(self, timers: Sequence[Doc]) -> None:
        """Insert timers; one that exists already (same id: a retried write) is left as it is."""
        if not timers:
            return
        try:
            await self.timers.insert_many(list(timers), ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    # --- outbox --------------------------------------------------------------------------------

    async def outbox_add(self, batch_id: str, messages: Sequence[OutboundMessage], now: datetime) -> None:
        await self.outbox.insert_one(
            {
                "_id": batch_id,
                "state": "pending",
                "created_at": now,
                "lease_until": now,
                "messages": [m.to_doc() for m in messages],
            }
        )

    async def outbox_sent(self, batch_id: str, now: datetime) -> None:
        await self.outbox.update_one({"_id": batch_id}, {"$set": {"state": "sent", "sent_at": now}})

    async def outbox_claim_stale(
        self, *, older_than: datetime, now: datetime, lease_until: datetime, owner: str
    ) -> Doc | None:
        """Claim one pending batch that nobody marked sent in time (its publisher crashed or failed)."""
        return await self.outbox.find_one_and_update(
            {"state": "pending", "created_at": {"$lte": older_than}, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": lease_until, "owner": owner}, "$inc": {"attempts": 1}},
            sort=[("created_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def outbox_committed(self, messages: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        """The messages whose ticket recorded them: the effect was stored, so they must go out.
        A message whose ticket write never happened (crash, lost race) is an orphan and is dropped."""
        ids = list({m.ticket_id for m in messages})
        recorded: set[str] = set()
        async for t in self.tickets.find({"_id": {"$in": ids}}, {"outbox_ids": 1}):
            recorded.update(t.get("outbox_ids") or [])
        return [m for m in messages if m.message_id in recorded]

    async def outbox_purge_sent(self, before: datetime) -> int:
        result = await self.outbox.delete_many({"state": "sent", "sent_at": {"$lt": before}})
        return result.deleted_count

    # --- audit and labels -------------------------------------------------------------------------

    async def audit_log(self, entry: Doc) -> None:
        await self.audit.insert_one(entry)

    async def add_label(self, label: Doc) -> None:
        await self.labels.insert_one(label)
