"""Fusion of model scores and rule hits into one decision per field, with a confidence. Pure.

Every field is decided the same way: a score per label in log-odds space (the model's calibrated
log-probability for the domain; a prior for the others), plus the weights of the rules that fired
and of the agent's own choice; the softmax of those scores is the confidence. The model's
temperature is fitted at training time on out-of-fold predictions, so a model probability of 0.9 is
right about 90 % of the time on the training distribution; rule weights are log-odds bonuses the
operator sets (2 ≈ "makes this label 7× more likely").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from config.classifier import ClassifierConfig
from router.classification import TicketText
from router.classify.rules import Hit, LexiconHits
from schemas.v1.vocab import Domain, TicketType, Transport, Urgency

_DOMAINS = [d.value for d in Domain]
_TRANSPORTS = [t.value for t in Transport]
_TYPES = [t.value for t in TicketType]
_URGENCIES = [Urgency.CRITICAL.value, Urgency.URGENT.value, Urgency.NORMAL.value]
_TRANSPORT = Domain.TRANSPORT.value
_OTHER = Domain.OTHER.value


@dataclass(frozen=True, slots=True)
class FieldDecision:
    label: str
    confidence: float
    explanation: str


def softmax(scores: Mapping[str, float]) -> dict[str, float]:
    m = max(scores.values())
    ex = {k: math.exp(v - m) for k, v in scores.items()}
    total = sum(ex.values())
    return {k: v / total for k, v in ex.items()}


def _best(probs: Mapping[str, float], order: Sequence[str]) -> str:
    # ties go to the label listed first in ``order`` (deterministic)
    return max(order, key=lambda k: (probs.get(k, 0.0), -order.index(k)))


def _rules_text(hits: Sequence[Hit], label: str) -> str:
    parts = [h.describe() for h in hits if h.label == label and h.weight > 0]
    return "; ".join(parts)


def _has_transport_fields(t: TicketText) -> bool:
    return bool(t.plate_no or t.transport_mode or t.route or t.company)


def is_model_led(ticket: TicketText, config: ClassifierConfig) -> bool:
    """A citizen-written text on a channel the operator lets the model lead (``model_led_channels``)."""
    channels = config.defaults.model_led_channels.get(ticket.hotline, ())
    return ticket.channel is not None and ticket.channel in channels


def decide_domain(  # noqa: PLR0917 (one value per evidence source, all required)
    ticket: TicketText,
    model_log_proba: Mapping[str, float],
    model_words: Callable[[str], Sequence[str]],
    text_length: int,
    hits: LexiconHits,
    config: ClassifierConfig,
) -> FieldDecision:
    """First-level domain from the model's log-probabilities and the domain/transport rules."""
    d = config.defaults
    top = max(model_log_proba, key=lambda k: model_log_proba[k])
    p_top = math.exp(model_log_proba[top])
    # a citizen-written text on a model-led channel (a web message): the model, trained on such texts,
    # gives the label. Agents' phone tickets are always fused: the hotline lexicon knows their words
    model_led = is_model_led(ticket, config)
    if model_led and text_length >= d.model_gate_length and p_top >= d.model_gate_proba:
        # message-board length and a confident model: the lexicon would only add noise
        words = list(model_words(top))
        why = f"model {p_top:.2f}" + (f"; words: {', '.join(words)}" if words else "")
        return FieldDecision(top, p_top, f"domain {top} ({why}; long text, model decides) → {p_top:.2f}")
    bonus: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for h in hits.domain:
        bonus[h.label] = bonus.get(h.label, 0.0) + h.weight
        reasons.setdefault(h.label, []).append(f"rule {h.describe()}")
    transport_bonus = sum(h.domain_weight for h in hits.transport)
    if transport_bonus:
        bonus[_TRANSPORT] = bonus.get(_TRANSPORT, 0.0) + transport_bonus
        words = [w for h in hits.transport if h.domain_weight > 0 for w in h.words]
        if words:
            reasons.setdefault(_TRANSPORT, []).append("transport words: " + ", ".join(dict.fromkeys(words)))
    for dom, b in d.hotline_domain_bonus.get(ticket.hotline, {}).items():
        bonus[dom] = bonus.get(dom, 0.0) + b
    if _has_transport_fields(ticket) and d.transport_fields_bonus:
        bonus[_TRANSPORT] = bonus.get(_TRANSPORT, 0.0) + d.transport_fields_bonus
        reasons.setdefault(_TRANSPORT, []).append("12328 transport fields")

    # long texts give the model plenty to go on and match many words by accident: damp the rules
    # (on the hotlines where long texts are message-board texts; 12328 tickets are agent-written)
    damp = (
        min(1.0, d.rule_length / max(1, text_length)) ** d.rule_power
        if ticket.hotline in d.rule_damping_hotlines
        else 1.0
    )
    # the model is calibrated on long message-board texts; on short tickets it can be sure for the
    # wrong reasons (street names like 18路), so no domain starts below the floor the rules can lift
    floor = math.log(config.thresholds.min_model_proba)
    scores = {k: max(floor, v) for k, v in model_log_proba.items()}
    if _OTHER not in model_log_proba:  # the board-trained model has no 其他 class: a prior stands in
        scores[_OTHER] = math.log(config.thresholds.other_prior)
    transport_cap = d.model_led_max_transport_bonus if model_led else d.max_transport_bonus
    for k, b in bonus.items():
        cap = transport_cap if k == _TRANSPORT else d.max_domain_bonus
        scores[k] = scores.get(k, math.log(config.thresholds.other_prior)) + damp * max(-cap, min(cap, b))
    probs = softmax(scores)
    fused = _best(probs, _DOMAINS)
    # shorter or less certain model-led texts: the model's label stands and the fused probability
    # of it is the confidence, so a disagreeing lexicon sends the ticket to triage
    label = top if model_led else fused
    conf = probs[label]

    parts: list[str] = []
    if label in model_log_proba:
        p_model = math.exp(model_log_proba[label])
        words = list(model_words(label))
        parts.append(f"model {p_model:.2f}" + (f"; words: {', '.join(words)}" if words else ""))
    parts.extend(reasons.get(label, []))
    if model_led:
        parts.append(f"{ticket.channel} text, model leads")
        if fused != label:
            parts.append(f"lexicon favours {fused} ({probs[fused]:.2f})")
    explanation = f"domain {label} ({'; '.join(parts) or 'no evidence'}) → {conf:.2f}"
    return FieldDecision(label, conf, explanation)


def decide_transport(hits: LexiconHits, config: ClassifierConfig) -> FieldDecision:
    """Second level for 交通运输: the transport rules, 其他交通 when nothing specific fired."""
    s = scores_with_prior(hits.transport, {Transport.OTHER.value: config.defaults.transport_prior})
    probs = softmax({t: s.get(t, 0.0) for t in _TRANSPORTS})
    order = _TRANSPORTS
    label = _best(probs, order)
    why = _rules_text(hits.transport, label)
    return FieldDecision(
        label,
        probs[label],
        f"transport {label} ({'rule ' + why if why else 'no specific rule'}) → {probs[label]:.2f}",
    )


def scores_with_prior(hits: Sequence[Hit], prior: Mapping[str, float]) -> dict[str, float]:
    out = dict(prior)
    for h in hits:
        out[h.label] = out.get(h.label, 0.0) + h.weight
    return out


def _decide_with_agent_evidence(
    field: str,
    labels: Sequence[str],
    hits: Sequence[Hit],
    *,
    prior: Mapping[str, float],
    reported: str | None,
    reported_weight: float,
) -> FieldDecision:
    """Lexicon hits on top of a prior, with the agent's choice as evidence (not truth); ties go to the
    label listed first in ``labels``."""
    s = scores_with_prior(hits, prior)
    if reported is not None:
        s[reported] = s.get(reported, 0.0) + reported_weight
    probs = softmax({x: s.get(x, 0.0) for x in labels})
    label = _best(probs, labels)
    parts = []
    why = _rules_text(hits, label)
    if why:
        parts.append(f"rule {why}")
    if reported == label:
        parts.append("agent's choice")
    return FieldDecision(
        label, probs[label], f"{field} {label} ({'; '.join(parts) or 'default'}) → {probs[label]:.2f}"
    )


def decide_type(ticket: TicketText, hits: LexiconHits, config: ClassifierConfig) -> FieldDecision:
    d = config.defaults
    return _decide_with_agent_evidence(
        "type",
        _TYPES,
        hits.type,
        prior={k.value: v for k, v in d.type_prior.items()},
        reported=ticket.reported_type.value if ticket.reported_type is not None else None,
        reported_weight=d.reported_type_weight,
    )


def decide_urgency(ticket: TicketText, hits: LexiconHits, config: ClassifierConfig) -> FieldDecision:
    d = config.defaults
    # _URGENCIES lists the most urgent first: on a tie, missing a real emergency costs more
    return _decide_with_agent_evidence(
        "urgency",
        _URGENCIES,
        hits.urgency,
        prior={k.value: v for k, v in d.urgency_prior.items()},
        reported=ticket.reported_urgency.value if ticket.reported_urgency is not None else None,
        reported_weight=d.reported_urgency_weight,
    )
