"""Feedback, I/O part: validate, load the ticket, apply (pure), store with an optimistic version check,
publish through the outbox. Exactly-once effect: a message id already recorded on the ticket changes
nothing; a concurrent change to the same ticket is retried from a fresh read."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import ValidationError

from router.domain import Domain
from router.feedback import FeedbackContext, FeedbackRejected, apply_feedback
from router.messages import Clock, InboundMessage, Outcome, Publisher, invalid_body, oversize
from router.metrics import Metrics
from router.rollup_store import RollupBuffer
from router.rollups import rollup_changes
from router.storage import Storage
from schemas.v1.feedback import FEEDBACK_ADAPTERS, Feedback

log = structlog.get_logger("feedback")

DEPT_ACTIONS = frozenset({"signed", "replied", "returned", "extension", "progress"})
AGENT_ACTIONS = {"agent.callback": "callback", "agent.triage": "triage"}
MAX_CONFLICT_RETRIES = 5


def parse_feedback(message: InboundMessage, *, max_body_bytes: int) -> Feedback | Outcome:
    too_big = oversize(message, max_body_bytes)
    if too_big is not None:
        return too_big
    key = message.routing_key
    parts = key.split(".")
    department: str | None = None
    if len(parts) == 3 and parts[0] == "dept" and parts[2] in DEPT_ACTIONS:
        department, action = parts[1], parts[2]
    elif key in AGENT_ACTIONS:
        action = AGENT_ACTIONS[key]
    else:
        return Outcome.reject(
            "unknown_routing_key", f"routing key {key!r} is not dept.<code>.<action> or agent.*"
        )
    if not message.message_id:
        return Outcome.reject(
            "missing_message_id", "feedback must carry a unique AMQP message_id (deduplication)"
        )
    try:
        fb = FEEDBACK_ADAPTERS[action].validate_json(message.body)
    except ValidationError as exc:
        return invalid_body(exc)
    if department is not None and getattr(fb, "department", None) != department:
        return Outcome.reject(
            "department_mismatch",
            f"routing key names {department!r}, body names {getattr(fb, 'department', None)!r}",
        )
    return fb


_TICKET_ID = re.compile(rb'"ticket_id"\s*:\s*"([^"]{1,100})"')


def _ticket_hint(body: bytes) -> str | None:
    """The ticket a feedback body is about, for ordering only (validation happens in ``parse_feedback``)."""
    match = _TICKET_ID.search(body[:4096])
    return match.group(1).decode(errors="replace") if match else None


class FeedbackService:
    def __init__(
        self,
        *,
        storage: Storage,
        publisher: Publisher,
        domain: Domain,
        clock: Clock,
        tz: Any,
        metrics: Metrics,
        rollups: RollupBuffer,
        max_body_bytes: int = 256 * 1024,
        concurrency: int = 16,
    ) -> None:
        self._storage = storage
        self._publisher = publisher
        self._clock = clock
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._concurrency = concurrency
        self._tz = tz
        self._rollups = rollups
        self._work_seconds = domain.calendar.working_seconds_between
        self._ctx = FeedbackContext(
            router=domain.router,
            deadlines=domain.deadlines,
            tz=tz,
            max_extension_days=domain.max_extension_days,
            callback_attempts=domain.callback_attempts,
        )

    async def handle(self, batch: Sequence[InboundMessage]) -> list[Outcome]:
        """Messages about different tickets are applied concurrently; those about one ticket in order."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        lanes: dict[str, list[int]] = {}
        for i, message in enumerate(batch):
            lanes.setdefault(_ticket_hint(message.body) or f"#{i}", []).append(i)
        slots = asyncio.Semaphore(self._concurrency)

        async def lane(indices: list[int]) -> None:
            async with slots:
                for i in indices:
                    outcomes[i] = await self.handle_one(batch[i])

        await asyncio.gather(*(lane(ix) for ix in lanes.values()))
        return [o if o is not None else Outcome.reject("internal", "no outcome") for o in outcomes]

    async def handle_one(self, message: InboundMessage) -> Outcome:
        parsed = parse_feedback(message, max_body_bytes=self._max_body)
        if isinstance(parsed, Outcome):
            self._metrics.feedback.labels(action=message.routing_key, outcome=parsed.reason or "").inc()
            return parsed
        assert message.message_id is not None
        with structlog.contextvars.bound_contextvars(ticket_id=parsed.ticket_id, action=parsed.action):
            outcome = await self._apply(parsed, message.message_id)
        self._metrics.feedback.labels(action=parsed.action, outcome=outcome.reason or "applied").inc()
        return outcome

    async def _apply(self, fb: Feedback, message_id: str) -> Outcome:
        for _ in range(MAX_CONFLICT_RETRIES):
            doc = await self._storage.get_ticket(fb.ticket_id)
            if doc is None:
                return Outcome.reject("unknown_ticket", f"no ticket {fb.ticket_id!r}", fb.ticket_id)
            if message_id in doc.get("feedback_ids", []):
                log.info("feedback_duplicate_ignored", message_id=message_id)
                return Outcome.ack(fb.ticket_id, reason="duplicate")
            now = self._clock.now()
            try:
                plan = apply_feedback(doc, fb, now=now, ctx=self._ctx)
            except FeedbackRejected as exc:
                return Outcome.reject(exc.reason, exc.detail, fb.ticket_id)
            plan.doc["feedback_ids"] = [*doc.get("feedback_ids", []), message_id][-200:]
            batch_id = uuid.uuid4().hex
            if plan.messages:
                await self._storage.outbox_add(batch_id, plan.messages, now)
            # timers before the ticket: a timer whose ticket write never happened fails its guard
            # and is dropped
            await self._storage.add_timers(plan.timers)
            stored = await self._storage.replace_ticket(plan.doc, expected_version=doc["version"])
            if not stored:
                log.info("ticket_changed_concurrently_retrying")
                continue
            self._rollups.add(rollup_changes(doc, plan.doc, tz=self._tz, work_seconds=self._work_seconds))
            for label in plan.labels:
                await self._storage.add_label(label)
            if plan.messages:
                try:
                    await self._publisher.publish(plan.messages)
                except Exception as exc:
                    log.warning("publish_failed_relay_will_retry", batch=batch_id, error=repr(exc))
                    self._metrics.publish_failures.inc()
                else:
                    await self._storage.outbox_sent(batch_id, now)
            log.info("feedback_applied", state=plan.doc["state"], department=plan.doc.get("department"))
            return Outcome.ack(fb.ticket_id)
        return Outcome.reject(
            "conflict", f"ticket {fb.ticket_id} kept changing; gave up after {MAX_CONFLICT_RETRIES}"
        )
