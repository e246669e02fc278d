"""Router → anyone notifications on ``hotline.events`` (DESIGN §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.v1.vocab import Hotline

EventKind = Literal[
    "sla.warning",
    "sla.breach",
    "sla.urge",
    "sla.circular",
    "callback.due",
    "triage.needed",
    "ticket.closed",
    "ticket.reopened",
    "ticket.merged",
]


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["hotline.event/v1"] = Field(default="hotline.event/v1", alias="schema")
    ticket_id: str
    hotline: Hotline
    external_id: str
    kind: EventKind
    at: AwareDatetime
    department: str | None = None
    #: sla.*: which clock (sign|reply|dispatch), its due time, how late (seconds)
    clock: str | None = None
    due: AwareDatetime | None = None
    overdue_by: float | None = None
    #: triage.needed / merged: why
    reason: str | None = None
    #: callback.due: the caller's full phone (agents call back), attempt number, calling window
    phone: str | None = None
    attempt: int | None = None
    window: str | None = None
    merged_into: str | None = None
