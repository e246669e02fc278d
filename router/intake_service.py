"""Intake, I/O part: a batch of deliveries → tickets stored, dispatches published, exactly-once effect.

Write path per batch (a constant number of round trips, whatever the batch size):
 1. one read: open tickets of the same callers (duplicate detection, only if any caller has a phone);
 2. one write: the outbox batch (all messages to publish, ``pending``);
 3. one write: ``insert_many`` of the tickets (unordered; an existing hotline+external_id is a duplicate);
 4. publish all messages, publisher confirms awaited;
 5. one write: the outbox batch marked ``sent``.
A crash after 2 or 3 leaves a pending outbox batch that ``OutboxRelay`` re-publishes (same message ids)
for the tickets whose document records the message. The deliveries are acked only after 3.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from router.classification import Classifier
from router.clock import as_utc
from router.dedupe import find_merge_target
from router.intake import Parsed, parse_intake, plan_merge, plan_new_ticket
from router.lifecycle import OPEN
from router.messages import Clock, InboundMessage, OutboundMessage, Outcome, Publisher
from router.metrics import Metrics
from router.plans import TicketPlan
from router.rollup_store import RollupBuffer
from router.rollups import WorkSeconds, rollup_changes
from router.routing import Router
from router.sla import DeadlineCalculator
from router.storage import Storage
from router.tickets import caller_key, ticket_text
from schemas.v1.vocab import RouteAction, TicketState

log = structlog.get_logger("intake")

_MERGEABLE = frozenset({TicketState.DISPATCHED.value, TicketState.TRIAGE.value})


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    max_body_bytes: int = 256 * 1024
    merge_window: timedelta = timedelta(hours=72)
    merge_threshold: float = 0.8


class IntakeService:
    def __init__(
        self,
        *,
        storage: Storage,
        publisher: Publisher,
        classifier: Classifier,
        router: Router,
        deadlines: DeadlineCalculator,
        clock: Clock,
        tz: Any,
        metrics: Metrics,
        work_seconds: WorkSeconds,
        rollups: RollupBuffer,
        options: IntakeOptions = IntakeOptions(),
    ) -> None:
        self._storage = storage
        self._publisher = publisher
        self._classifier = classifier
        self._router = router
        self._deadlines = deadlines
        self._clock = clock
        self._tz = tz
        self._metrics = metrics
        self._options = options
        self._rollups = rollups
        self._work_seconds = work_seconds

    async def handle(self, batch: Sequence[InboundMessage]) -> list[Outcome]:
        now = self._clock.now()
        outcomes: list[Outcome | None] = [None] * len(batch)
        parsed: list[tuple[int, Parsed]] = []
        seen: set[str] = set()
        for i, message in enumerate(batch):
            result = parse_intake(message, max_body_bytes=self._options.max_body_bytes)
            if isinstance(result, Outcome):
                outcomes[i] = result
                self._metrics.intake_rejected.labels(reason=result.reason or "").inc()
            elif result.ticket_id in seen:  # the same order twice in one batch
                outcomes[i] = Outcome.ack(result.ticket_id, reason="duplicate")
                self._metrics.intake_duplicates.inc()
            else:
                seen.add(result.ticket_id)
                parsed.append((i, result))

        if parsed:
            plans = await self._plan([p for _, p in parsed], now)
            inserted = await self._store_and_publish(plans, now)
            for (i, p), plan in zip(parsed, plans, strict=True):
                if p.ticket_id in inserted:
                    outcomes[i] = Outcome.ack(p.ticket_id)
                    self._metrics.tickets_routed.labels(
                        hotline=p.intake.hotline.value, outcome=plan.doc["state"]
                    ).inc()
                    log.info(
                        "ticket_routed",
                        ticket_id=p.ticket_id,
                        hotline=p.intake.hotline.value,
                        state=plan.doc["state"],
                        department=plan.doc.get("department"),
                        rule=(plan.doc.get("route") or {}).get("rule"),
                    )
                else:
                    outcomes[i] = Outcome.ack(p.ticket_id, reason="duplicate")
                    self._metrics.intake_duplicates.inc()
                    log.info("intake_duplicate_ignored", ticket_id=p.ticket_id)
        return [o if o is not None else Outcome.reject("internal", "no outcome") for o in outcomes]

    async def _plan(self, parsed: list[Parsed], now: datetime) -> list[TicketPlan]:
        classifications = self._classifier.classify_many([ticket_text(p.intake) for p in parsed])
        merge_candidates = await self._open_tickets_of_callers(parsed, now)
        plans = []
        for p, c in zip(parsed, classifications, strict=True):
            target = None
            key = caller_key(p.intake.caller.phone if p.intake.caller else None)
            if key and key in merge_candidates:
                target = find_merge_target(
                    p.intake.content, merge_candidates[key], threshold=self._options.merge_threshold
                )
            if target is not None:
                plans.append(plan_merge(p, c, target.ticket_id, target.score, now=now))
                continue
            route = self._router.route(p.intake.hotline, c)
            if route.action is RouteAction.DISPATCH:
                deadlines = self._deadlines.for_dispatch(
                    at=now, type=c.type, urgency=c.urgency, hotline=p.intake.hotline
                )
            elif route.action is RouteAction.TRIAGE:
                deadlines = self._deadlines.for_triage(
                    received_at=p.intake.received_at, hotline=p.intake.hotline
                )
            else:
                deadlines = None
            plan = plan_new_ticket(p, c, route, deadlines, now=now, tz=self._tz)
            if key and plan.doc["state"] in _MERGEABLE:  # a repeat later in this same batch merges into it
                merge_candidates.setdefault(key, []).append({"_id": p.ticket_id, "content": p.intake.content})
            plans.append(plan)
        return plans

    async def _open_tickets_of_callers(
        self, parsed: list[Parsed], now: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        keys = {k for p in parsed if p.intake.caller and (k := caller_key(p.intake.caller.phone))}
        if not keys:
            return {}
        found: dict[str, list[dict[str, Any]]] = {}
        since = now - self._options.merge_window
        open_states = {s.value for s in OPEN}
        # only the indexed equality in the query; the window and state are checked here
        cursor = self._storage.tickets.find(
            {"caller_key": {"$in": sorted(keys)}},
            {"content": 1, "caller_key": 1, "state": 1, "received_at": 1},
        )
        async for doc in cursor:
            if doc["state"] in open_states and as_utc(doc["received_at"]) >= since:
                found.setdefault(doc["caller_key"], []).append(doc)
        return found

    async def _store_and_publish(self, plans: list[TicketPlan], now: datetime) -> set[str]:
        messages = [m for plan in plans for m in plan.messages]
        batch_id = uuid.uuid4().hex
        if messages:
            await self._storage.outbox_add(batch_id, messages, now)
        # timers before tickets: a timer whose ticket was never stored (or is a duplicate) fails its guard
        await self._storage.add_timers([t for plan in plans for t in plan.timers])
        result = await self._storage.insert_tickets([plan.doc for plan in plans])
        inserted = set(result.inserted)
        self._rollups.add(
            i
            for p in plans
            if p.doc["_id"] in inserted
            for i in rollup_changes(None, p.doc, tz=self._tz, work_seconds=self._work_seconds)
        )
        to_send: list[OutboundMessage] = [m for m in messages if m.ticket_id in inserted]
        if messages:
            try:
                await self._publisher.publish(to_send)
            except Exception as exc:  # effect is stored: the relay re-publishes; the deliveries may be acked
                log.warning("publish_failed_relay_will_retry", batch=batch_id, error=repr(exc))
                self._metrics.publish_failures.inc()
            else:
                await self._storage.outbox_sent(batch_id, now)
        return inserted
