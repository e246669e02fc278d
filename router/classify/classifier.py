"""The production classifier: the domain model and the operator's lexicon fused per ticket."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Protocol

import scipy.sparse as sp

from config.classifier import ClassifierConfig, normalise_text
from router.classification import AreaMatch, Classification, TicketText
from router.classify.combine import decide_domain, decide_transport, decide_type, decide_urgency
from router.classify.model import TextModel, model_text_normalised
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
        self._classes = model.classes

    @property
    def version(self) -> str:
        return self.model.version

    def _words(self, x: sp.csr_matrix, row: int, label: str) -> list[str]:
        return self.model.top_terms(x, row, self._classes.index(label))

    def classify(self, ticket: TicketText) -> Classification:
        return self.classify_many([ticket])[0]

    def classify_many(self, tickets: Sequence[TicketText]) -> list[Classification]:
        if not tickets:
            return []
        norm = [normalise_text(t.text) for t in tickets]
        x = self.model.features([model_text_normalised(n) for n in norm])
        logp = self.model.log_proba(self.model.decision(x), self.config.model.temperature)
        out: list[Classification] = []
        for i, t in enumerate(tickets):
            row = logp[i]
            model_lp = {c: float(row[j]) for j, c in enumerate(self._classes)}
            hits = self.lexicon.match(_rules_text(t, norm[i]), t.hotline.value)
            dom = decide_domain(t, model_lp, partial(self._words, x, i), len(t.text), hits, self.config)
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
