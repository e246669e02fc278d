"""The production classifier: the domain model and the operator's lexicon fused per ticket."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Protocol

import scipy.sparse as sp

from config.classifier import ClassifierConfig, normalise_text
from router.classification import AreaMatch, Classification, TicketText
from router.classify.combine import (
    decide_domain,
    decide_transport,
    decide_type,
    decide_urgency,
    is_model_led,
)
from router.classify.model import BOARD, HOTLINE, TextModel, model_text_normalised
from router.classify.rules import Lexicon
from schemas.v1.vocab import Domain, TicketType, Transport, Urgency


class AreaResolverLike(Protocol):
    def resolve(self, ticket: TicketText) -> AreaMatch: ...


class NoAreas:
    """Stand-in while no area resolver is available: the area is unknown."""

    def resolve(self, ticket: TicketText) -> AreaMatch:
        return AreaMatch(None, None)


def _rules_text(t: TicketText, normalised: str) -> str:
    extra = " ".join(x for x in (t.transport_mode, t.company, t.route) if x)
    return f"{normalised} {normalise_text(extra)}" if extra else normalised


class HotlineClassifier:
    """Implements ``router.classification.Classifier``. Immutable after construction; thread-safe."""

    def __init__(self, config: ClassifierConfig, model: TextModel, areas: AreaResolverLike) -> None:
        self.config = config
        self.model = model
        self.lexicon = Lexicon(config)
        self.areas = areas

    @property
    def version(self) -> str:
        return self.model.version

    def _words(self, x: sp.csr_matrix, row: int, scorer: str, label: str) -> list[str]:
        return self.model.top_terms(x, row, self.model.scorers[scorer].classes.index(label), scorer=scorer)

    def _scorer(self, ticket: TicketText) -> str:
        """The board scorer for citizen-written texts on model-led channels (the kind of text it was
        trained on), the hotline scorer (trained on labelled hotline tickets too) for the rest."""
        if HOTLINE not in self.model.scorers or is_model_led(ticket, self.config):
            return BOARD
        return HOTLINE

    def classify(self, ticket: TicketText) -> Classification:
        return self.classify_many([ticket])[0]

    def classify_many(self, tickets: Sequence[TicketText]) -> list[Classification]:
        if not tickets:
            return []
        norm = [normalise_text(t.text) for t in tickets]
        x = self.model.features([model_text_normalised(n) for n in norm])
        scorers = [self._scorer(t) for t in tickets]
        logp = {
            name: self.model.log_proba(
                self.model.decision(x, name), self.config.model.temperature, scorer=name
            )
            for name in set(scorers)
        }
        out: list[Classification] = []
        for i, t in enumerate(tickets):
            name = scorers[i]
            row = logp[name][i]
            model_lp = {c: float(row[j]) for j, c in enumerate(self.model.scorers[name].classes)}
            hits = self.lexicon.match(_rules_text(t, norm[i]), t.hotline.value)
            words = partial(self._words, x, i, name)
            dom = decide_domain(t, model_lp, words, len(t.text), hits, self.config)
            explanation = [dom.explanation]
            confidence = {"domain": round(dom.confidence, 4)}
            transport: Transport | None = None
            if dom.label == Domain.TRANSPORT:
                tr = decide_transport(hits, self.config)
                transport = Transport(tr.label)
                confidence["transport"] = round(tr.confidence, 4)
                explanation.append(tr.explanation)
            ty = decide_type(t, hits, self.config)
            ur = decide_urgency(t, hits, self.config)
            area = self.areas.resolve(t)
            confidence["type"] = round(ty.confidence, 4)
            confidence["urgency"] = round(ur.confidence, 4)
            confidence["area"] = 1.0 if area.code else 0.0
            explanation += [ty.explanation, ur.explanation]
            if area.code:
                explanation.append(f"area {area.code} ({area.evidence or 'resolver'})")
            out.append(
                Classification(
                    type=TicketType(ty.label),
                    domain=Domain(dom.label),
                    transport=transport,
                    urgency=Urgency(ur.label),
                    area=area,
                    confidence=confidence,
                    explanation=explanation,
                    model_version=self.version,
                )
            )
        return out
