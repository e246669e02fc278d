"""SLA deadlines as the service stores them on tickets.

``DeadlineSet`` is the stored shape; ``SlaCalculator`` computes it from the operator's SLA policy and the
working-day calendar (``router.deadlines`` does the arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.v1.vocab import Hotline, TicketType, Urgency


@dataclass(frozen=True, slots=True)
class DeadlineSet:
    sign_due: datetime | None
    reply_due: datetime | None
    provisional: bool
    policy_version: str
    calendar_version: str
    sign_warn_at: datetime | None = None
    reply_warn_at: datetime | None = None
    return_until: datetime | None = None
    dispatch_due: datetime | None = None  # for tickets waiting in triage
    dispatch_warn_at: datetime | None = None
    #: more than N working days past ``reply_due`` → 通报 (circular)
    circular_at: datetime | None = None
    #: approved extensions (延期) included in ``reply_due``
    extension_working_days: int = 0

    def to_doc(self) -> dict[str, Any]:
        return {
            "sign_due": self.sign_due,
            "reply_due": self.reply_due,
            "sign_warn_at": self.sign_warn_at,
            "reply_warn_at": self.reply_warn_at,
            "return_until": self.return_until,
            "dispatch_due": self.dispatch_due,
            "dispatch_warn_at": self.dispatch_warn_at,
            "circular_at": self.circular_at,
            "extension_working_days": self.extension_working_days,
            "provisional": self.provisional,
            "policy_version": self.policy_version,
            "calendar_version": self.calendar_version,
        }


class DeadlineCalculator(Protocol):
    def for_dispatch(
        self, *, at: datetime, type: TicketType, urgency: Urgency, hotline: Hotline
    ) -> DeadlineSet:
        """Clocks that start when a department receives the ticket."""
        ...

    def for_triage(self, *, received_at: datetime, hotline: Hotline) -> DeadlineSet:
        """The dispatch clock for a ticket waiting for a human routing decision."""
        ...
