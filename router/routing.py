"""Where a classified work order goes (DESIGN §5): dispatch, transfer to the other hotline, or triage.

Pure: ``Router.route`` takes the hotline, the classification, the departments that already returned
the ticket and the number of returns, and returns a ``RouteDecision``. Only ``from_config`` and
``load_policy`` read files. The order of the rules is documented in ``config/data/routing.yaml`` and
``docs/routing.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.directory import Department, Directory, load_directory
from config.files import read_yaml
from router.areas import format_validation_errors
from router.classification import Classification
from schemas.v1.vocab import Domain, Hotline, RouteAction, TicketType, Transport

ROUTING_FILE = "routing.yaml"


class RoutingConfigError(ValueError):
    """``routing.yaml`` is missing, malformed, or refers to departments the directory lacks."""


# --------------------------------------------------------------------------- policy (routing.yaml)


class OverrideRule(BaseModel):
    """An explicit rule, tried before the directory: matching tickets go to ``department``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    description: str = ""
    hotline: tuple[Hotline, ...] = ()
    #: city (4-digit) or district (6-digit) codes; a city matches all its districts
    areas: tuple[str, ...] = ()
    domain: Domain | None = None
    transport: tuple[Transport, ...] = ()
    types: tuple[TicketType, ...] = ()
    department: str

    @field_validator("areas")
    @classmethod
    def _area_shape(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for code in v:
            if not (code.isdigit() and len(code) in (4, 6)):
                raise ValueError(f"area {code!r}: expected a 4-digit city or 6-digit district code")
        return v

    @model_validator(mode="after")
    def _transport_needs_domain(self) -> OverrideRule:
        if self.transport and self.domain not in (None, Domain.TRANSPORT):
            raise ValueError("transport sub-domains only apply to domain 交通运输")
        return self

    def matches(self, hotline: Hotline, c: Classification) -> bool:
        if self.hotline and hotline not in self.hotline:
            return False
        if self.domain is not None and c.domain is not self.domain:
            return False
        if self.transport and (c.domain is not Domain.TRANSPORT or c.transport not in self.transport):
            return False
        if self.types and c.type not in self.types:
            return False
        if self.areas:
            code = c.area.code
            if code is None or not any(code == a or (len(a) == 4 and code.startswith(a)) for a in self.areas):
                return False
        return True


class RoutingPolicy(BaseModel):
    """The parsed ``routing.yaml``; the defaults are the Shandong practice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    #: routing confidence below this → human triage
    triage_threshold: float = Field(default=0.55, ge=0.0, le=1.0)
    #: a 12328 non-transport ticket is transferred to 12345 only at or above this (default: the triage one)
    transfer_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    #: this many returns (退单) → supervisor arbitration (派单异议审核)
    max_returns: int = Field(default=2, ge=1, le=20)
    #: a 交通运输 ticket without a sub-domain is routed as this one
    transport_default: Transport = Transport.OTHER
    overrides: tuple[OverrideRule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> RoutingPolicy:
        ids = [o.id for o in self.overrides]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"override ids must be unique: {', '.join(dupes)}")
        return self

    @property
    def effective_transfer_threshold(self) -> float:
        return self.triage_threshold if self.transfer_threshold is None else self.transfer_threshold


def load_policy(config_dir: Path) -> RoutingPolicy:
    """Read and validate ``<config_dir>/routing.yaml``."""
    path = config_dir / ROUTING_FILE
    raw = read_yaml(path, "routing rules", RoutingConfigError)
    try:
        return RoutingPolicy.model_validate(raw)
    except ValidationError as exc:
        raise RoutingConfigError(f"{path}: invalid routing rules:\n{format_validation_errors(exc)}") from exc


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class RouteDecision:
    action: RouteAction
    department: str | None  # for dispatch
    to: Hotline | None  # for transfer
    #: the rule that decided: "override:<id>", "transport-subdomain", "domain-area",
    #: "fallback-area-centre", "fallback-province-centre", "12328-non-transport", "low-confidence",
    #: "arbitration", "no-candidate"
    rule: str
    reason: str  # a sentence for the ticket's history and the explanation


@dataclass(frozen=True, slots=True)
class Candidate:
    """A department that could take the ticket, and the rule that makes it a candidate."""

    department: Department
    rule: str


class Router:
    """Routing rules over the departments directory. Immutable; safe to share."""

    __slots__ = ("_directory", "_policy")

    def __init__(self, directory: Directory, policy: RoutingPolicy) -> None:
        missing = [f"{o.id} → {o.department}" for o in policy.overrides if o.department not in directory]
        if missing:
            raise RoutingConfigError(
                f"{ROUTING_FILE}: overrides name departments that are not in the directory: "
                + ", ".join(missing)
            )
        for side in Hotline:
            if directory.centre(side, None) is None:
                raise RoutingConfigError(
                    f"the directory has no provincial {side} centre (a province-wide department with "
                    f'kind: centre and side: "{side}"): tickets with an unknown area would have nowhere to go'
                )
        self._directory = directory
        self._policy = policy

    @classmethod
    def from_config(cls, config_dir: Path) -> Router:
        return cls(load_directory(config_dir), load_policy(config_dir))

    @property
    def directory(self) -> Directory:
        return self._directory

    @property
    def policy(self) -> RoutingPolicy:
        return self._policy

    def route(
        self,
        hotline: Hotline,
        c: Classification,
        *,
        exclude: frozenset[str] = frozenset(),
        bounces: int = 0,
    ) -> RouteDecision:
        policy = self._policy
        if bounces >= policy.max_returns:
            return _triage(
                "arbitration",
                f"已退单{bounces}次（上限{policy.max_returns}次），转派单异议审核 / "
                f"returned {bounces} times: supervisor arbitration",
            )
        confidence = c.routing_confidence
        if confidence < policy.triage_threshold:
            return _triage(
                "low-confidence",
                f"分类置信度{confidence:.2f}低于阈值{policy.triage_threshold:.2f}（{_matter(c)}），"
                "转人工分拨 / low confidence: human triage",
            )
        for rule in policy.overrides:
            if rule.department not in exclude and rule.matches(hotline, c):
                dept = self._directory.department(rule.department)
                return _dispatch(dept, f"override:{rule.id}", c, exclude, rule.description)
        if hotline is Hotline.H12328 and c.domain is not Domain.TRANSPORT:
            threshold = policy.effective_transfer_threshold
            if confidence < threshold:
                return _triage(
                    "low-confidence",
                    f"12328工单疑似非交通运输事项（{c.domain}，置信度{confidence:.2f}<{threshold:.2f}），"
                    "转人工分拨 / possibly not transport: human triage",
                )
            return RouteDecision(
                action=RouteAction.TRANSFER,
                department=None,
                to=Hotline.H12345,
                rule="12328-non-transport",
                reason=f"12328工单诉求属{c.domain}，非交通运输事项，转12345热线 / "
                "not transport: transfer to 12345",
            )
        for cand in self.candidates(c):
            if cand.department.code not in exclude:
                note = (
                    "12345受理的交通运输事项转交通运输侧"
                    if (hotline is Hotline.H12345 and c.domain is Domain.TRANSPORT)
                    else ""
                )
                return _dispatch(cand.department, cand.rule, c, exclude, note)
        return _triage(
            "no-candidate",
            f"{_matter(c)}：候选单位均已退单（{', '.join(sorted(exclude))}），转人工分拨 / "
            "every candidate returned it: human triage",
        )

    def candidates(self, c: Classification) -> list[Candidate]:
        """Every department that could take the ticket, in the order the router tries them
        (overrides and exclusions aside): handling departments most local first, then the area's
        general office, then the provincial centre. Also the suggestions shown at triage."""
        d = self._directory
        transport: Transport | None = None
        side = Hotline.H12345
        if c.domain is Domain.TRANSPORT:
            side = Hotline.H12328
            transport = c.transport or self._policy.transport_default
        area, city = c.area.code, c.area.city
        rule = "transport-subdomain" if side is Hotline.H12328 else "domain-area"
        out = [Candidate(dept, rule) for dept in d.handling(c.domain, transport, area)]
        if city is not None:
            for centre in (d.centre(side, city), d.centre(Hotline.H12345, city)):
                if centre is not None:
                    out.append(Candidate(centre, "fallback-area-centre"))
        province = d.centre(side, None)
        if province is not None:
            out.append(Candidate(province, "fallback-province-centre"))
        seen: set[str] = set()
        unique = []
        for cand in out:
            if cand.department.code not in seen:
                seen.add(cand.department.code)
                unique.append(cand)
        return unique


def _matter(c: Classification) -> str:
    what = f"{c.domain}/{c.transport}" if c.transport is not None else str(c.domain)
    return f"{what}@{c.area.code or '未知地区'}"


def _triage(rule: str, reason: str) -> RouteDecision:
    return RouteDecision(action=RouteAction.TRIAGE, department=None, to=None, rule=rule, reason=reason)


def _dispatch(
    dept: Department, rule: str, c: Classification, exclude: frozenset[str], note: str
) -> RouteDecision:
    parts = [f"{_matter(c)} → {dept.name}（{dept.code}），规则 {rule}"]
    if note:
        parts.append(note)
    if exclude:
        parts.append(f"已排除退单单位 {', '.join(sorted(exclude))}")
    return RouteDecision(
        action=RouteAction.DISPATCH, department=dept.code, to=None, rule=rule, reason="；".join(parts)
    )
