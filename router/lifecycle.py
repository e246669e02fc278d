"""The ticket state machine (DESIGN §6): every transition is validated here, in one place.

Pure: ``transition`` returns the history entry to append; storage applies it with an optimistic check on
the ticket's ``version`` so that concurrent writers cannot overwrite each other silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.v1.vocab import TicketState as S

ALLOWED: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset({S.DISPATCHED, S.TRIAGE, S.TRANSFERRED, S.MERGED, S.REJECTED}),
    S.TRIAGE: frozenset({S.DISPATCHED, S.TRANSFERRED, S.REJECTED, S.MERGED}),
    S.DISPATCHED: frozenset({S.SIGNED, S.REPLIED, S.RETURNED, S.DISPATCHED}),
    S.SIGNED: frozenset({S.REPLIED, S.RETURNED, S.DISPATCHED}),
    S.RETURNED: frozenset({S.DISPATCHED, S.TRIAGE, S.TRANSFERRED}),
    S.REPLIED: frozenset({S.CALLBACK_PENDING, S.CLOSED}),
    S.CALLBACK_PENDING: frozenset({S.CLOSED, S.REOPENED}),
    S.REOPENED: frozenset({S.DISPATCHED, S.TRIAGE}),
    S.CLOSED: frozenset(),
    S.TRANSFERRED: frozenset(),
    S.MERGED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL = frozenset(state for state, nxt in ALLOWED.items() if not nxt)
#: states in which a department holds the ticket (SLA clocks run)
WITH_DEPARTMENT = frozenset({S.DISPATCHED, S.SIGNED})
OPEN = frozenset(S) - TERMINAL


class IllegalTransition(ValueError):
    """A ticket was asked to move where the lifecycle does not allow it."""

    def __init__(self, ticket_id: str, current: S, wanted: S) -> None:
        super().__init__(f"ticket {ticket_id}: illegal transition {current.value} → {wanted.value}")
        self.ticket_id = ticket_id
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    from_state: S | None
    to_state: S
    actor: str
    reason: str
    details: dict[str, Any] | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "at": self.at,
            "from": self.from_state.value if self.from_state else None,
            "to": self.to_state.value,
            "actor": self.actor,
            "reason": self.reason,
        }
        if self.details:
            doc["details"] = self.details
        return doc


def can_transition(current: S, wanted: S) -> bool:
    return wanted in ALLOWED[current]


def transition(
    ticket_id: str,
    current: S | None,
    wanted: S,
    *,
    at: datetime,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> HistoryEntry:
    """Validate ``current → wanted`` (``None`` = a ticket being created) and describe it."""
    if current is None:
        if wanted is not S.RECEIVED:
            raise IllegalTransition(ticket_id, S.RECEIVED, wanted)
    elif not can_transition(current, wanted):
        raise IllegalTransition(ticket_id, current, wanted)
    return HistoryEntry(
        at=at, from_state=current, to_state=wanted, actor=actor, reason=reason, details=details
    )
