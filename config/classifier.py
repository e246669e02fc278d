"""Classifier settings and the operator-editable lexicon (DESIGN §5), read from ``classifier.yaml``.

The YAML is data the operator edits: keywords, regular expressions and weights for the ticket type,
urgency, transport sub-domain and first-level domain, the fusion settings and the model file. The
triage threshold lives in ``routing.yaml`` (``triage_threshold``), not here. This
module only validates it; ``router.classify`` turns it into a classifier. A bad file fails with a
:class:`ClassifierConfigError` that names the file, the field and what was wrong.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.files import load_yaml
from schemas.v1.vocab import Channel, Domain, Hotline, TicketType, Transport, Urgency

CONFIG_FILE = "classifier.yaml"


class ClassifierConfigError(ValueError):
    """The classifier configuration (or its model file) is missing or invalid."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def normalise_text(text: str) -> str:
    """How both the rules and the keywords see text: NFKC (full-width → half-width), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """One lexicon entry: if any keyword occurs (or any regex matches) and no ``unless`` word occurs,
    ``label`` gets ``weight`` added to its score (a log-odds bonus)."""

    name: str = Field(min_length=1)
    label: str
    weight: float = Field(default=2.0, ge=-20, le=20)
    keywords: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    #: the rule does not fire when any of these words occurs (e.g. 出租 unless 出租房)
    unless: list[str] = Field(default_factory=list)
    #: transport rules only: bonus for the first-level domain 交通运输 (defaults to ``weight``)
    domain_weight: float | None = Field(default=None, ge=-20, le=20)
    #: the rule only fires on tickets of these hotlines (empty = all), e.g. 12345-only taxonomy rules
    hotlines: list[Hotline] = Field(default_factory=list)
    comment: str | None = None

    @field_validator("keywords", "unless")
    @classmethod
    def _normalise_words(cls, v: list[str]) -> list[str]:
        out = [normalise_text(w.strip()) for w in v]
        if any(not w for w in out):
            raise ValueError("empty keyword")
        return out

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} does not compile: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _has_trigger(self) -> Rule:
        if not self.keywords and not self.regex:
            raise ValueError(f"rule {self.name!r} has neither keywords nor regex")
        return self


def _labels_in(rules: list[Rule], allowed: set[str], section: str) -> list[Rule]:
    for r in rules:
        if r.label not in allowed:
            raise ValueError(
                f"{section} rule {r.name!r}: label {r.label!r} is not one of {', '.join(sorted(allowed))}"
            )
    return rules


class ModelSettings(_Strict):
    #: model file (``.npz``; its ``.json`` metadata sits next to it), relative to the config directory;
    #: when not found there, the packaged ``config/models/`` is tried
    file: str = Field(min_length=1)
    #: temperature applied on top of the one fitted at training time (1.0 = as trained)
    temperature: float = Field(default=1.0, gt=0, le=10)


class Thresholds(_Strict):
    #: probability the model gives the domain 其他 (it has no training data) before rules
    other_prior: float = Field(default=0.04, gt=0, lt=1)
    #: model probabilities below this are raised to it before the rules are added
    min_model_proba: float = Field(default=0.01, gt=0, lt=1)


class Defaults(_Strict):
    #: score every type starts with (the most common outcome gets a head start)
    type_prior: dict[TicketType, float] = Field(default_factory=lambda: {TicketType.COMPLAINT: 0.5})
    urgency_prior: dict[Urgency, float] = Field(default_factory=lambda: {Urgency.NORMAL: 1.0})
    #: score 其他交通 starts with; a transport ticket with no sub-domain evidence lands there
    transport_prior: float = Field(default=0.5)
    #: weight of the agent's own choice (evidence, not truth)
    reported_type_weight: float = Field(default=1.5, ge=0, le=20)
    reported_urgency_weight: float = Field(default=1.2, ge=0, le=20)
    #: bonus for 交通运输 per hotline (a 12328 call is more likely about transport)
    hotline_domain_bonus: dict[Hotline, dict[Domain, float]] = Field(
        default_factory=lambda: {Hotline.H12328: {Domain.TRANSPORT: 0.7}}
    )
    #: bonus for 交通运输 when the ticket carries 12328 transport fields (plate, route, company, mode)
    transport_fields_bonus: float = Field(default=1.5, ge=0, le=20)
    #: cap on the total rule bonus one domain can get (keeps one long list of hits from shouting)
    max_domain_bonus: float = Field(default=6.0, gt=0, le=50)
    #: cap on the total bonus transport rules give the domain 交通运输 (log-odds, before damping).
    #: 2 since round 7 (5 before): the hotline scorer, trained on labelled tickets, knows better than
    #: a vehicle word whether a ticket is the transport authority's
    max_transport_bonus: float = Field(default=2.0, gt=0, le=50)
    #: the same cap on model-led channels, where the lexicon only sets the confidence: kept at 5 so
    #: that a strong disagreement (a web message about bus fares, which the board's taxonomy files
    #: under 城乡建设) still reaches a human
    model_led_max_transport_bonus: float = Field(default=5.0, gt=0, le=50)
    #: domain rule bonuses count fully up to this many characters, beyond that
    #: × (rule_length/length)^rule_power (long texts give the model enough to go on)
    rule_length: int = Field(default=150, ge=1)
    rule_power: float = Field(default=3.0, ge=0, le=10)
    #: hotlines whose long texts have their domain-rule bonuses damped: 12345 receives message-board
    #: length texts, where the model (trained on such texts) is reliable; 12328 tickets are written by
    #: agents about transport, where the model's board taxonomy (buses under 城乡建设) is not
    rule_damping_hotlines: list[Hotline] = Field(default_factory=lambda: [Hotline.H12345])
    #: on a model-led channel (below), a text at least ``model_gate_length`` characters long whose
    #: calibrated top model probability is at least ``model_gate_proba`` is the model's alone, with
    #: the model's confidence (message-board length: the lexicon would only add noise). Phone
    #: tickets are never gated since round 6: long agent-written tickets are fused
    model_gate_length: int = Field(default=120, ge=1)
    model_gate_proba: float = Field(default=0.4, gt=0, le=1.01)
    #: per hotline, the channels whose texts the citizen wrote, like the message board the model was
    #: trained on: there the model's label stands, and the lexicon only sets the confidence (the
    #: fused probability of that label), so where the hotline lexicon disagrees (a bus fare the board
    #: files under 商贸旅游, the hotline under 交通运输) the ticket goes to triage instead of either
    #: side guessing. Phone tickets, written by agents in hotline words, are always fused.
    model_led_channels: dict[Hotline, list[Channel]] = Field(
        default_factory=lambda: {Hotline.H12345: [Channel.WEB]}
    )


class ClassifierConfig(_Strict):
    version: int = 1
    model: ModelSettings
    thresholds: Thresholds = Field(default_factory=Thresholds)
    defaults: Defaults = Field(default_factory=Defaults)
    domain: Annotated[list[Rule], Field(default_factory=list)]
    transport: Annotated[list[Rule], Field(default_factory=list)]
    type: Annotated[list[Rule], Field(default_factory=list)]
    urgency: Annotated[list[Rule], Field(default_factory=list)]
    #: words that match but vote for nothing: they only stop a shorter transport/domain keyword
    #: inside them from counting (县道路 = 县 + 道路, not the 县道 road class)
    neutral: Annotated[list[str], Field(default_factory=list)]

    @field_validator("neutral")
    @classmethod
    def _normalise_neutral(cls, v: list[str]) -> list[str]:
        out = [normalise_text(w.strip()) for w in v]
        if any(not w for w in out):
            raise ValueError("empty neutral word")
        return out

    @field_validator("domain")
    @classmethod
    def _domain_labels(cls, v: list[Rule]) -> list[Rule]:
        return _labels_in(v, {d.value for d in Domain}, "domain")

    @field_validator("transport")
    @classmethod
    def _transport_labels(cls, v: list[Rule]) -> list[Rule]:
        return _labels_in(v, {t.value for t in Transport}, "transport")

    @field_validator("type")
    @classmethod
    def _type_labels(cls, v: list[Rule]) -> list[Rule]:
        return _labels_in(v, {t.value for t in TicketType}, "type")

    @field_validator("urgency")
    @classmethod
    def _urgency_labels(cls, v: list[Rule]) -> list[Rule]:
        return _labels_in(v, {u.value for u in Urgency}, "urgency")

    @model_validator(mode="after")
    def _unique_names(self) -> ClassifierConfig:
        for section in ("domain", "transport", "type", "urgency"):
            seen: set[str] = set()
            for r in getattr(self, section):
                if r.name in seen:
                    raise ValueError(f"{section}: rule name {r.name!r} is used twice")
                seen.add(r.name)
        return self

    def resolve_model_file(self, config_dir: Path) -> Path:
        """The model file: relative to ``config_dir``, else in the packaged ``config/models/``."""
        p = Path(self.model.file)
        candidates = [p] if p.is_absolute() else [config_dir / p, PACKAGED_MODELS_DIR / p.name]
        for c in candidates:
            if c.is_file():
                return c.resolve()
        return candidates[0]


PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"


def _format_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        out.append(f"{loc or '(top)'}: {err['msg']}")
    return out


def parse_classifier_config(data: Any, source: Path) -> ClassifierConfig:
    if not isinstance(data, dict):
        raise ClassifierConfigError(source, ["expected a mapping at the top level"])
    try:
        return ClassifierConfig.model_validate(data)
    except ValidationError as exc:
        raise ClassifierConfigError(source, _format_errors(exc)) from exc


def load_classifier_config(config_dir: Path) -> ClassifierConfig:
    """Read and validate ``<config_dir>/classifier.yaml``."""
    path = config_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClassifierConfigError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ClassifierConfigError(path, [f"not valid YAML: {exc}"]) from exc
    return parse_classifier_config(data, path)
