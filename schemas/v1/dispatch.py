"""Router → department (``hotline.dispatch`` / ``dept.<code>``) and router → other hotline
(``hotline.dispatch`` / ``transfer.<hotline>``), DESIGN §4."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.v1.vocab import Domain, Hotline, TicketType, Transport, Urgency


class Deadlines(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sign_due: AwareDatetime | None
    reply_due: AwareDatetime | None


class MaskedCaller(BaseModel):
    """What a department may see of the caller: the phone masked (138****5678)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    phone: str | None = None


class DispatchMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["hotline.dispatch/v1"] = Field(default="hotline.dispatch/v1", alias="schema")
    kind: Literal["new", "redispatch", "reopen"]
    ticket_id: str
    hotline: Hotline
    external_id: str
    department: str
    type: TicketType
    domain: Domain
    transport: Transport | None
    urgency: Urgency
    area: str | None
    title: str | None
    content: str
    address: str | None
    #: absent when the caller asked for confidentiality (保密) or the ticket is a 举报
    caller: MaskedCaller | None = None
    deadlines: Deadlines
    attempt: int = Field(ge=1)
    history_note: str | None = None


class TransferMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["hotline.transfer/v1"] = Field(default="hotline.transfer/v1", alias="schema")
    ticket_id: str
    hotline: Hotline  # the source line
    external_id: str
    to: Hotline
    reason: str
    #: the normalised intake ticket (the same fields as ``hotline.intake/v1``), caller included:
    #: the receiving hotline is a call centre that must be able to call back
    ticket: dict[str, Any]
