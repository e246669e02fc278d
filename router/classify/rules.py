"""The operator's lexicon as a fast matcher. Pure: text in, rule hits out.

Every rule of ``classifier.yaml`` is a list of keywords and regular expressions with a label and a
weight. Matching is substring search plus the regexes, with **longest match** among the words
that decide the domain (transport and domain rules, plus the ``neutral`` words): an occurrence of a
keyword that lies inside an occurrence of a longer such word does not count for the shorter one
(``县道`` does not fire inside ``A7县道路``, ``公路`` not inside ``高速公路``). The text is normalised
the same way as the keywords (NFKC, lower case), so ``ETC``, ``etc`` and ``ＥＴＣ`` are one word.
Rules with ``hotlines`` only fire on tickets of those hotlines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ahocorasick

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
    keyword_set: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[str, ...]
    domain_weight: float
    hotlines: frozenset[str]


#: keyword → the longer words that contain it, with the keyword's offset inside each
Containers = Mapping[str, tuple[tuple[str, int], ...]]


def containers(words: Iterable[str]) -> dict[str, tuple[tuple[str, int], ...]]:
    """For every word, the longer words of ``words`` that contain it (at every offset)."""
    uniq = sorted(set(words), key=len)
    out: dict[str, tuple[tuple[str, int], ...]] = {}
    for i, w in enumerate(uniq):
        found: list[tuple[str, int]] = []
        for longer in uniq[i + 1 :]:
            if len(longer) > len(w):
                start = longer.find(w)
                while start != -1:
                    found.append((longer, start))
                    start = longer.find(w, start + 1)
        if found:
            out[w] = tuple(found)
    return out


def _occurs_alone(text: str, word: str, inside: tuple[tuple[str, int], ...]) -> bool:
    """``word`` occurs in ``text`` at least once outside every longer word of ``inside``."""
    start = text.find(word)
    while start != -1:
        if not any(off <= start and text.startswith(longer, start - off) for longer, off in inside):
            return True
        start = text.find(word, start + 1)
    return False


class RuleSet:
    """The rules of one section (type, urgency, transport or domain)."""

    def __init__(self, rules: Iterable[Rule], longer: Containers | None = None) -> None:
        self._longer: Containers = longer or {}
        self._rules = tuple(
            _Compiled(
                rule=r,
                keywords=tuple(dict.fromkeys(r.keywords)),
                keyword_set=frozenset(r.keywords),
                patterns=tuple(re.compile(p) for p in r.regex),
                unless=tuple(r.unless),
                domain_weight=r.weight if r.domain_weight is None else r.domain_weight,
                hotlines=frozenset(h.value for h in r.hotlines),
            )
            for r in rules
        )

        # one Aho-Corasick pass finds every keyword of the section that occurs in a text; rules are
        # then checked against that small set instead of searching the text once per keyword
        self._automaton: ahocorasick.Automaton | None = None
        keywords = {k for c in self._rules for k in c.keywords}
        if keywords:
            self._automaton = ahocorasick.Automaton()
            for k in keywords:
                self._automaton.add_word(k, k)
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self._rules)

    def _present(self, text: str) -> set[str]:
        if self._automaton is None:
            return set()
        return {k for _, k in self._automaton.iter(text)}

    def match(self, text: str, hotline: str | None = None) -> list[Hit]:
        """The rules that fire on ``text`` (already normalised with :func:`normalise_text`) of a
        ticket to ``hotline`` (``None``: hotline-specific rules do not fire)."""
        hits: list[Hit] = []
        longer = self._longer
        present = self._present(text)
        for c in self._rules:
            if c.hotlines and hotline not in c.hotlines:
                continue
            words = (
                [
                    k
                    for k in c.keywords
                    if k in present and (k not in longer or _occurs_alone(text, k, longer[k]))
                ]
                if not c.keyword_set.isdisjoint(present)
                else []
            )
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


@dataclass(frozen=True, slots=True)
class LexiconHits:
    domain: list[Hit]
    transport: list[Hit]
    type: list[Hit]
    urgency: list[Hit]


class Lexicon:
    """All four sections of the operator's lexicon."""

    def __init__(self, config: ClassifierConfig) -> None:
        # longest match among the words that decide the domain (both sections + neutral words); the
        # words of hotline-specific rules are overlays and never hide a word from the other hotline
        rules = (*config.domain, *config.transport)
        vocab = [k for r in rules if not r.hotlines for k in r.keywords] + config.neutral
        longer = containers(vocab)
        self.domain = RuleSet(config.domain, longer)
        self.transport = RuleSet(config.transport, longer)
        self.type = RuleSet(config.type)
        self.urgency = RuleSet(config.urgency)

    def match(self, text: str, hotline: str | None = None) -> LexiconHits:
        """Hits of all sections; ``text`` must already be normalised (:func:`normalise_text`)."""
        t = text
        return LexiconHits(
            domain=self.domain.match(t, hotline),
            transport=self.transport.match(t, hotline),
            type=self.type.match(t, hotline),
            urgency=self.urgency.match(t, hotline),
        )
