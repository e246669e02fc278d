"""The operator's lexicon as a fast matcher. Pure: text in, rule hits out.

Every rule of ``classifier.yaml`` is a list of keywords and regular expressions with a label and a
weight. Matching is plain substring search (overlapping words all count) plus the regexes; the
text is normalised the same way as the keywords (NFKC, lower case), so ``ETC``, ``etc`` and
``ＥＴＣ`` are one word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from config.classifier import ClassifierConfig, Rule, normalise_text  # noqa: F401 (re-export)


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule that fired, with the words that made it fire."""

    rule: str
    label: str
    weight: float
    domain_weight: float
    words: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.rule}: {', '.join(self.words)}"


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    keywords: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[str, ...]
    domain_weight: float


class RuleSet:
    """The rules of one section (type, urgency, transport or domain)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(
            _Compiled(
                rule=r,
                keywords=tuple(dict.fromkeys(r.keywords)),
                patterns=tuple(re.compile(p) for p in r.regex),
                unless=tuple(r.unless),
                domain_weight=r.weight if r.domain_weight is None else r.domain_weight,
            )
            for r in rules
        )

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, text: str) -> list[Hit]:
        """The rules that fire on ``text`` (already normalised with :func:`normalise_text`)."""
        hits: list[Hit] = []
        for c in self._rules:
            words = [k for k in c.keywords if k in text]
            for p in c.patterns:
                m = p.search(text)
                if m:
                    words.append(m.group(0))
            if not words:
                continue
            if c.unless and any(u in text for u in c.unless):
                continue
            hits.append(Hit(c.rule.name, c.rule.label, c.rule.weight, c.domain_weight, tuple(words)))
        return hits


def scores(hits: Sequence[Hit], prior: dict[str, float] | None = None) -> dict[str, float]:
    """Sum of weights per label (on top of ``prior``)."""
    out = dict(prior or {})
    for h in hits:
        out[h.label] = out.get(h.label, 0.0) + h.weight
    return out


@dataclass(frozen=True, slots=True)
class LexiconHits:
    domain: list[Hit]
    transport: list[Hit]
    type: list[Hit]
    urgency: list[Hit]


class Lexicon:
    """All four sections of the operator's lexicon."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.domain = RuleSet(config.domain)
        self.transport = RuleSet(config.transport)
        self.type = RuleSet(config.type)
        self.urgency = RuleSet(config.urgency)

    def match(self, text: str) -> LexiconHits:
        """Hits of all sections; ``text`` must already be normalised (:func:`normalise_text`)."""
        t = text
        return LexiconHits(
            domain=self.domain.match(t),
            transport=self.transport.match(t),
            type=self.type.match(t),
            urgency=self.urgency.match(t),
        )
