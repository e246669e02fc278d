"""What a classifier sees and what it decides (DESIGN §5). Pure types: no I/O.

The service, the ``classify`` CLI, ``evaluate`` and ``bench`` all go through a ``Classifier``;
``router.classify`` builds the production one from ``config/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from schemas.v1.vocab import Channel, Domain, Hotline, TicketType, Transport, Urgency


@dataclass(frozen=True, slots=True)
class TicketText:
    """The parts of a normalised ticket that classification may look at."""

    hotline: Hotline
    content: str
    title: str | None = None
    address: str | None = None
    area_code: str | None = None
    reported_type: TicketType | None = None
    reported_urgency: Urgency | None = None
    plate_no: str | None = None
    transport_mode: str | None = None
    route: str | None = None
    company: str | None = None
    #: how the citizen reached the hotline: on ``web`` the citizen wrote the text, like the message
    #: board the domain model was trained on (see ``defaults.model_led_channels``)
    channel: Channel | None = None

    @property
    def text(self) -> str:
        """Title and content as one string (the model's input)."""
        return joined_text(self.content, self.title)


def joined_text(content: str, title: str | None = None) -> str:
    """How a ticket's title and content become the one text the classifier reads (also for stored
    labels and labelled training tickets, so that training sees what the service sees)."""
    return f"{title}。{content}" if title else content


@dataclass(frozen=True, slots=True)
class AreaMatch:
    """Where the matter is: a GB/T 2260 code (4 digits city, 6 digits district) and why."""

    code: str | None
    city: str | None  # 4-digit city code, also set when ``code`` is a district
    evidence: str | None = None  # e.g. "address:历下区", "plate:鲁A", "area_code"


@dataclass(frozen=True, slots=True)
class Classification:
    type: TicketType
    domain: Domain
    transport: Transport | None  # second level, only when domain is 交通运输
    urgency: Urgency
    area: AreaMatch
    #: per decision, 0..1: keys "type", "domain", "transport", "urgency", "area"
    confidence: dict[str, float]
    #: human-readable reasons: the words and rules that decided it
    explanation: list[str] = field(default_factory=list)
    model_version: str = "rules"

    @property
    def routing_confidence(self) -> float:
        """The confidence that matters for routing: the domain (and sub-domain when transport)."""
        c = self.confidence.get("domain", 0.0)
        if self.transport is not None:
            c = min(c, self.confidence.get("transport", 0.0))
        return c


class Classifier(Protocol):
    @property
    def version(self) -> str: ...

    def classify(self, ticket: TicketText) -> Classification: ...

    def classify_many(self, tickets: Sequence[TicketText]) -> list[Classification]: ...
