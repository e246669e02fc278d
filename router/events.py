"""Building router → anyone notifications (``hotline.events``, DESIGN §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from router.messages import Exchange, OutboundMessage
from schemas.v1.events import Event, EventKind


def event(
    doc: dict[str, Any], kind: EventKind, *, now: datetime, message_id: str, **fields: Any
) -> OutboundMessage:
    body = Event(
        ticket_id=doc["_id"],
        hotline=doc["hotline"],
        external_id=doc["external_id"],
        kind=kind,
        at=now,
        department=fields.pop("department", doc.get("department")),
        **fields,
    )
    return OutboundMessage.of(Exchange.EVENTS, kind, message_id, doc["_id"], body)
