"""Normalising intake from both hotlines into one ticket document, and building the outbound bodies.

Pure: plain values in, plain values out. The document layout is described in docs/architecture.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from router.classification import AreaMatch, Classification, TicketText
from router.clock import as_utc
from router.lifecycle import HistoryEntry
from router.privacy import mask_name, mask_phone
from schemas.v1.dispatch import Deadlines, DispatchMessage, MaskedCaller, TransferMessage
from schemas.v1.intake import Intake12328, Intake12345
from schemas.v1.vocab import Channel, Domain, Hotline, TicketType, Transport, Urgency

IntakeTicket = Intake12328 | Intake12345


def ticket_id_for(hotline: Hotline | str, external_id: str) -> str:
    """A stable id: the same platform order always maps to the same ticket (idempotent intake)."""
    digest = hashlib.sha256(f"{hotline}\x1f{external_id}".encode()).hexdigest()[:16]
    return f"T{hotline}-{digest}"


def caller_key(phone: str | None) -> str | None:
    """A pseudonymous key for "same caller" (duplicate detection) that does not store the number twice."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return hashlib.sha256(digits.encode()).hexdigest()[:24] if digits else None


def ticket_text(intake: IntakeTicket) -> TicketText:
    transport = intake.transport if isinstance(intake, Intake12328) else None
    return TicketText(
        hotline=intake.hotline,
        content=intake.content,
        title=intake.title,
        address=intake.address,
        area_code=intake.area_code,
        reported_type=intake.reported_type,
        reported_urgency=intake.urgency,
        plate_no=transport.plate_no if transport else None,
        transport_mode=transport.mode if transport else None,
        route=transport.route if transport else None,
        company=transport.company if transport else None,
        channel=intake.channel,
    )


def ticket_text_from_doc(doc: dict[str, Any]) -> TicketText:
    """Rebuild the classifier input from a stored ticket (re-classification, labels for training)."""
    t = doc.get("transport_info") or {}
    return TicketText(
        hotline=Hotline(doc["hotline"]),
        content=doc["content"],
        title=doc.get("title"),
        address=doc.get("address"),
        area_code=doc.get("area_code"),
        reported_type=doc.get("reported_type"),
        reported_urgency=doc.get("reported_urgency"),
        plate_no=t.get("plate_no"),
        transport_mode=t.get("mode"),
        route=t.get("route"),
        company=t.get("company"),
        channel=Channel(doc["channel"]) if doc.get("channel") else None,
    )


def classification_doc(c: Classification) -> dict[str, Any]:
    return {
        "type": c.type.value,
        "domain": c.domain.value,
        "transport": c.transport.value if c.transport else None,
        "urgency": c.urgency.value,
        "area": c.area.code,
        "city": c.area.city,
        "area_evidence": c.area.evidence,
        "confidence": {k: round(v, 4) for k, v in c.confidence.items()},
        "explanation": list(c.explanation),
        "model_version": c.model_version,
    }


def new_ticket_doc(
    intake: IntakeTicket,
    *,
    ticket_id: str,
    classification: Classification,
    created: HistoryEntry,
    now: datetime,
) -> dict[str, Any]:
    """The stored ticket for a freshly received order, in state ``received`` (routing comes next)."""
    caller = intake.caller
    doc: dict[str, Any] = {
        "_id": ticket_id,
        "hotline": intake.hotline.value,
        "external_id": intake.external_id,
        "received_at": intake.received_at.astimezone(UTC),
        "created_at": now,
        "updated_at": now,
        "state": created.to_state.value,
        "version": 1,
        "title": intake.title,
        "content": intake.content,
        "address": intake.address,
        "area_code": intake.area_code,
        "channel": intake.channel.value if intake.channel else None,
        "caller": caller.model_dump() if caller else None,
        "caller_key": caller_key(caller.phone if caller else None),
        "reported_type": intake.reported_type.value if intake.reported_type else None,
        "reported_urgency": intake.urgency.value if intake.urgency else None,
        "attachments": [a.model_dump() for a in intake.attachments],
        "extra": intake.extra,
        "classification": classification_doc(classification),
        "department": None,
        "attempt": 0,
        "returned_by": [],
        "history": [created.to_doc()],
        "outbox_ids": [],
        "feedback_ids": [],
    }
    if isinstance(intake, Intake12328):
        doc["transport_info"] = intake.transport.model_dump() if intake.transport else None
    else:
        doc["transfer_info"] = intake.transfer.model_dump(by_alias=True) if intake.transfer else None
        doc["co_departments"] = list(intake.co_departments)
    return doc


def classification_with(doc: dict[str, Any]) -> Classification:
    """The stored classification as the router's input (re-routing after a return or a correction)."""
    c = doc["classification"]
    return Classification(
        type=TicketType(c["type"]),
        domain=Domain(c["domain"]),
        transport=Transport(c["transport"]) if c.get("transport") else None,
        urgency=Urgency(c["urgency"]),
        area=AreaMatch(c.get("area"), c.get("city"), c.get("area_evidence")),
        # a human-corrected or previously routed ticket is routed as certain; confidence gates only intake
        confidence={k: 1.0 for k in ("type", "domain", "transport", "urgency", "area")},
        explanation=list(c.get("explanation", [])),
        model_version=c.get("model_version", "stored"),
    )


def hides_caller(doc: dict[str, Any]) -> bool:
    """Confidential callers and whistle-blowers (举报) are hidden from departments entirely."""
    caller = doc.get("caller") or {}
    return bool(caller.get("confidential")) or doc["classification"]["type"] == TicketType.REPORT.value


@dataclass(frozen=True, slots=True)
class DeadlineValues:
    sign_due: datetime | None
    reply_due: datetime | None


def dispatch_body(
    doc: dict[str, Any],
    *,
    department: str,
    kind: Literal["new", "redispatch", "reopen"],
    attempt: int,
    deadlines: DeadlineValues,
    tz: Any,
    history_note: str | None = None,
) -> DispatchMessage:
    c = doc["classification"]
    caller = None
    if doc.get("caller") and not hides_caller(doc):
        caller = MaskedCaller(
            name=mask_name(doc["caller"].get("name")), phone=mask_phone(doc["caller"].get("phone"))
        )
    return DispatchMessage(
        kind=kind,
        ticket_id=doc["_id"],
        hotline=doc["hotline"],
        external_id=doc["external_id"],
        department=department,
        type=c["type"],
        domain=c["domain"],
        transport=c["transport"],
        urgency=c["urgency"],
        area=c["area"],
        title=doc.get("title"),
        content=doc["content"],
        address=doc.get("address"),
        caller=caller,
        deadlines=Deadlines(
            sign_due=_local(deadlines.sign_due, tz),
            reply_due=_local(deadlines.reply_due, tz),
        ),
        attempt=attempt,
        history_note=history_note,
    )


_INTAKE_FIELDS = ("title", "content", "channel", "caller", "address", "area_code", "attachments")


def normalised_ticket(doc: dict[str, Any]) -> dict[str, Any]:
    """The ticket as the other hotline needs it (不断档): intake fields, caller, our classification."""
    out: dict[str, Any] = {
        "hotline": doc["hotline"],
        "external_id": doc["external_id"],
        "received_at": _iso(doc["received_at"]),
        "reported_type": doc.get("reported_type"),
        "urgency": doc.get("reported_urgency"),
    }
    out.update({k: doc.get(k) for k in _INTAKE_FIELDS})
    if doc.get("transport_info"):
        out["transport"] = doc["transport_info"]
    if doc.get("transfer_info"):
        out["transfer"] = doc["transfer_info"]
    if doc.get("extra"):
        out["extra"] = doc["extra"]
    out["classification"] = doc["classification"]
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def transfer_body(doc: dict[str, Any], *, to: Hotline, reason: str) -> TransferMessage:
    return TransferMessage(
        ticket_id=doc["_id"],
        hotline=doc["hotline"],
        external_id=doc["external_id"],
        to=to,
        reason=reason,
        ticket=normalised_ticket(doc),
    )


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat()


def _local(value: datetime | None, tz: Any) -> datetime | None:
    if value is None:
        return None
    return as_utc(value).astimezone(tz)
