"""Synthetic short hotline tickets that teach the domain model hotline vocabulary (issue 3).

The message-board training data rarely uses the words callers use on the phone (拒载, ETC, 网约车,
驾校 …), so a model trained on it alone is unsure or wrong on short tickets. Each synthetic ticket
combines one or two lexicon keywords of a domain with generic openings, requests and boilerplate
that occur in every domain (so they stay neutral). They are added with a low sample weight so they
do not distort long message-board texts. Deterministic (seeded), no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

_OPENINGS = (
    "市民来电反映",
    "来电人称",
    "群众反映",
    "网民留言",
    "来电人反映",
    "市民咨询",
    "来电人咨询",
    "居民反映",
    "市民投诉",
    "有市民举报",
    "",
)
_MIDDLES = ("，", "，而且", "，还有", "的问题，", "方面，", "，同时")
_ASKS = (
    "，要求处理",
    "，希望尽快解决",
    "，请相关部门核实",
    "，想咨询一下怎么办",
    "，已多次反映未果",
    "，请求帮助",
    "，要求给个说法",
    "",
)
_TAILS = (
    "。时间是昨天下午，",
    "。情况属实，",
    "。给生活带来很大不便，",
    "。来电人希望相关单位尽快给予答复，",
    "。此前打过电话但无人处理，",
    "。请尽快派人查看，",
    "。",
)


def synthetic_tickets(
    keywords: Mapping[str, Sequence[str]], per_domain: Mapping[str, int], seed: int = 0
) -> list[tuple[str, str]]:
    """``(text, domain)`` pairs: ``per_domain[d]`` tickets of 15–150 characters for each domain ``d``."""
    rnd = random.Random(seed)
    out: list[tuple[str, str]] = []
    for domain in sorted(keywords):
        words = list(dict.fromkeys(keywords[domain]))
        if not words:
            continue
        for _ in range(per_domain.get(domain, 0)):
            body = rnd.choice(_OPENINGS) + rnd.choice(words)
            if rnd.random() < 0.6:
                body += rnd.choice(_MIDDLES) + rnd.choice(words)
            body += rnd.choice(_ASKS)
            target = rnd.choice((15, 30, 60, 100, 150))
            while len(body) < target:
                body += rnd.choice(_TAILS)
            out.append((body, domain))
    return out
