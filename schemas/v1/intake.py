"""Intake ticket v1 (DESIGN §4): what both hotline platforms publish to ``hotline.intake``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from schemas.v1.vocab import Channel, Hotline, TicketType, Urgency

AreaCode = Annotated[str, StringConstraints(pattern=r"^\d{4}(\d{2})?$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Caller(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\-() ]{3,32}$")
    confidential: bool = False


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=255)
    url: str = Field(max_length=2048)


class TransportInfo(BaseModel):
    """12328 only: what the agent recorded about the vehicle or service."""

    model_config = ConfigDict(extra="forbid")

    mode: str | None = Field(default=None, max_length=50)
    plate_no: str | None = Field(default=None, max_length=20)
    route: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=200)


class TransferInfo(BaseModel):
    """12345 only: the order came from another line (e.g. 12328 handed it over)."""

    model_config = ConfigDict(extra="forbid")

    from_: str = Field(alias="from", max_length=50)
    reason: str | None = Field(default=None, max_length=1000)


class _IntakeBase(BaseModel):
    """Fields common to both hotlines. Unknown fields are kept in ``extra``, never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: Literal["hotline.intake/v1"] = Field(default="hotline.intake/v1", alias="schema")
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    received_at: AwareDatetime
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    title: str | None = Field(default=None, max_length=200)
    channel: Channel | None = None
    caller: Caller | None = None
    address: str | None = Field(default=None, max_length=500)
    area_code: AreaCode | None = None
    reported_type: TicketType | None = None
    urgency: Urgency | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})

    @model_validator(mode="after")
    def _received_not_absurd(self) -> _IntakeBase:
        if self.received_at.year < 2000:
            raise ValueError("received_at is before 2000")
        return self


class Intake12328(_IntakeBase):
    hotline: Literal[Hotline.H12328]
    transport: TransportInfo | None = None


class Intake12345(_IntakeBase):
    hotline: Literal[Hotline.H12345]
    transfer: TransferInfo | None = None
    co_departments: list[str] = Field(default_factory=list, max_length=20)


IntakeTicket = Annotated[Intake12328 | Intake12345, Field(discriminator="hotline")]

#: validates raw AMQP bodies (bytes) directly: one adapter per inbound stream
INTAKE_ADAPTER: TypeAdapter[Intake12328 | Intake12345] = TypeAdapter(IntakeTicket)


def received_utc(ticket: Intake12328 | Intake12345) -> datetime:
    from datetime import UTC

    return ticket.received_at.astimezone(UTC)
