"""Duplicate detection (并单, DESIGN §5): the same caller with near-identical content within a window
is merged into the open ticket instead of being dispatched twice. Pure; text similarity is done here
(the database has no text index we can rely on)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def shingles(text: str, n: int = 2) -> frozenset[str]:
    """Character n-grams of the text with punctuation and spaces removed."""
    clean = _NOISE.sub("", text)
    if len(clean) <= n:
        return frozenset({clean}) if clean else frozenset()
    return frozenset(clean[i : i + n] for i in range(len(clean) - n + 1))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams, 0..1."""
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


@dataclass(frozen=True, slots=True)
class MergeTarget:
    ticket_id: str
    score: float


def find_merge_target(
    content: str, candidates: Iterable[dict[str, Any]], *, threshold: float
) -> MergeTarget | None:
    """The most similar open ticket of the same caller, if similar enough."""
    best: MergeTarget | None = None
    for doc in candidates:
        score = similarity(content, doc["content"])
        if score >= threshold and (best is None or score > best.score):
            best = MergeTarget(doc["_id"], score)
    return best
