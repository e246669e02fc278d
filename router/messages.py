"""Outbound and inbound message envelopes shared by the domain services and the AMQP edge.

The domain decides *what* to publish (an ``OutboundMessage``); ``consumers.publisher`` decides *how*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError


class Exchange(StrEnum):
    """Logical exchange names (the AMQP edge adds the deployment's prefix)."""

    INTAKE = "hotline.intake"
    DISPATCH = "hotline.dispatch"
    FEEDBACK = "hotline.feedback"
    EVENTS = "hotline.events"
    DLX = "hotline.dlx"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to publish. ``message_id`` is deterministic so a re-publish is recognisably the same."""

    exchange: Exchange
    routing_key: str
    message_id: str
    ticket_id: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, exchange: Exchange, routing_key: str, message_id: str, ticket_id: str, model: BaseModel
    ) -> OutboundMessage:
        return cls(
            exchange, routing_key, message_id, ticket_id, model.model_dump_json(by_alias=True).encode()
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange.value,
            "routing_key": self.routing_key,
            "message_id": self.message_id,
            "ticket_id": self.ticket_id,
            "body": self.body,
            "headers": self.headers,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboundMessage:
        return cls(
            Exchange(doc["exchange"]),
            doc["routing_key"],
            doc["message_id"],
            doc["ticket_id"],
            bytes(doc["body"]),
            dict(doc.get("headers") or {}),
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What a consumer hands the domain: the raw body and the envelope facts that matter."""

    body: bytes
    routing_key: str
    message_id: str | None = None
    redelivered: bool = False
    received: datetime | None = None


class Verdict(StrEnum):
    ACK = "ack"  # effect stored (or nothing to do: a duplicate)
    REJECT = "reject"  # poison: to the dead-letter queue with a reason, never requeued


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str | None = None  # machine-readable, e.g. "schema_violation"
    detail: str | None = None  # human-readable
    ticket_id: str | None = None

    @classmethod
    def ack(cls, ticket_id: str | None = None, reason: str | None = None) -> Outcome:
        return cls(Verdict.ACK, reason=reason, ticket_id=ticket_id)

    @classmethod
    def reject(cls, reason: str, detail: str, ticket_id: str | None = None) -> Outcome:
        return cls(Verdict.REJECT, reason=reason, detail=detail[:2000], ticket_id=ticket_id)


def invalid_body(exc: ValidationError) -> Outcome:
    """The reject outcome for a body that failed validation: not JSON at all, or JSON of the wrong shape."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] in {"json_invalid", "json_type"} for e in errors):
        return Outcome.reject("malformed_json", errors[0]["msg"])
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:10])
    return Outcome.reject("schema_violation", detail)


def oversize(message: InboundMessage, max_body_bytes: int) -> Outcome | None:
    if len(message.body) > max_body_bytes:
        return Outcome.reject("oversize", f"body is {len(message.body)} bytes, the limit is {max_body_bytes}")
    return None


class Publisher(Protocol):
    async def publish(self, messages: list[OutboundMessage]) -> None:
        """Publish all, persistent and mandatory, and return once the broker confirmed every one."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
