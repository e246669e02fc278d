"""Department and agent feedback on ``hotline.feedback`` (DESIGN §4).

Departments publish ``dept.<code>.<action>``; agents publish ``agent.callback`` and ``agent.triage``.
The routing key decides the model; every message carries its own AMQP ``message_id`` for dedup.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from schemas.v1.vocab import (
    CallbackOutcome,
    Domain,
    Hotline,
    ReturnReason,
    Satisfaction,
    TicketType,
    Transport,
)


class _Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["hotline.feedback/v1"] = Field(default="hotline.feedback/v1", alias="schema")
    ticket_id: str = Field(min_length=1, max_length=100)
    at: AwareDatetime


class _DeptFeedback(_Feedback):
    department: str = Field(pattern=r"^[a-z0-9-]+$")


class Signed(_DeptFeedback):
    action: Literal["signed"] = "signed"


class Replied(_DeptFeedback):
    action: Literal["replied"] = "replied"
    result: str = Field(min_length=1, max_length=10_000)
    resolved: bool


class Returned(_DeptFeedback):
    action: Literal["returned"] = "returned"
    reason_code: ReturnReason
    reason: str = Field(min_length=1, max_length=2000)


class ExtensionRequest(_DeptFeedback):
    action: Literal["extension"] = "extension"
    days: int = Field(ge=1, le=10)
    reason: str = Field(min_length=1, max_length=2000)


class Progress(_DeptFeedback):
    action: Literal["progress"] = "progress"
    note: str = Field(min_length=1, max_length=5000)


class AgentCallback(_Feedback):
    action: Literal["callback"] = "callback"
    agent: str = Field(min_length=1, max_length=100)
    outcome: CallbackOutcome
    satisfaction: Satisfaction | None = None
    comment: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _satisfaction_when_reached(self) -> AgentCallback:
        if self.outcome is CallbackOutcome.REACHED and self.satisfaction is None:
            raise ValueError("satisfaction is required when outcome is 'reached'")
        if self.outcome is not CallbackOutcome.REACHED and self.satisfaction is not None:
            raise ValueError("satisfaction is only given when outcome is 'reached'")
        return self


class AgentTriage(_Feedback):
    action: Literal["triage"] = "triage"
    agent: str = Field(min_length=1, max_length=100)
    department: str | None = Field(default=None, pattern=r"^[a-z0-9-]+$")
    transfer_to: Hotline | None = None
    type: TicketType | None = None
    domain: Domain | None = None
    transport: Transport | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AgentTriage:
        if (self.department is None) == (self.transfer_to is None):
            raise ValueError("exactly one of 'department' or 'transfer_to' is required")
        return self


DeptFeedback = Signed | Replied | Returned | ExtensionRequest | Progress
Feedback = DeptFeedback | AgentCallback | AgentTriage

#: routing-key action → adapter validating the body bytes
FEEDBACK_ADAPTERS: dict[str, TypeAdapter[Feedback]] = {
    "signed": TypeAdapter(Signed),
    "replied": TypeAdapter(Replied),
    "returned": TypeAdapter(Returned),
    "extension": TypeAdapter(ExtensionRequest),
    "progress": TypeAdapter(Progress),
    "callback": TypeAdapter(AgentCallback),
    "triage": TypeAdapter(AgentTriage),
}
