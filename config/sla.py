"""The SLA policy (DESIGN §7): operator-editable ``sla.yaml``, validated once at start-up.

The file has a ``version`` (stored on every ticket next to the calendar version), the ``defaults``
(Shandong's limits) and optional per-hotline ``hotlines`` sections that override any part of the
defaults (deep merge: mention only what differs; a limit such as ``{hours: 2}`` is replaced whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.files import load_yaml
from schemas.v1.vocab import Hotline, TicketType, Urgency

SLA_FILE = "sla.yaml"
_LIMIT_KEYS = frozenset({"minutes", "hours", "working_days"})


class SlaPolicyError(ValueError):
    """``sla.yaml`` is missing or invalid; ``problems`` lists ``location: what is wrong``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: invalid SLA policy:\n  " + "\n  ".join(problems))
        self.source = source
        self.problems = problems


def _reject_yaml_sexagesimal(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 20:00 as the number 1200 (base 60) — never what the operator meant
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f'write times in quotes, e.g. "20:00" (YAML read this one as the number {value})')
    return value


class Counting(StrEnum):
    """Which day is working day 1 of an N-working-day clock."""

    NEXT_WORKING_DAY = "next_working_day"  # the first working day after the day of receipt (default)
    SAME_DAY = "same_day"  # the day of receipt itself when it is a working day


class CallDays(StrEnum):
    ANY_DAY = "any_day"  # callbacks also on weekends and holidays (inside the window)
    WORKING_DAYS = "working_days"  # callbacks on working days only


class Limit(BaseModel):
    """One allowed time: exactly one of ``minutes`` / ``hours`` (wall clock) or ``working_days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: Annotated[float, Field(gt=0)] | None = None
    hours: Annotated[float, Field(gt=0)] | None = None
    working_days: Annotated[int, Field(ge=1, le=60)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Limit:
        given = [k for k in ("minutes", "hours", "working_days") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of minutes, hours (wall clock) or working_days, "
                f"got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def wall_clock(self) -> timedelta | None:
        """The duration of a wall-clock limit; None for a working-day limit."""
        if self.minutes is not None:
            return timedelta(minutes=self.minutes)
        if self.hours is not None:
            return timedelta(hours=self.hours)
        return None

    def __str__(self) -> str:
        if self.working_days is not None:
            return f"{self.working_days} WD"
        return f"{self.wall_clock} wall clock"


class ReplyLimits(BaseModel):
    """Reply (办结) limit: by urgency where given (紧急/特急), otherwise by ticket type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by_urgency: dict[Urgency, Limit] = Field(default_factory=dict)
    by_type: dict[TicketType, Limit] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _covers_everything(self) -> ReplyLimits:
        if all(u in self.by_urgency for u in Urgency):
            return self
        missing = [t.value for t in TicketType if t not in self.by_type]
        if missing:
            uncovered = [u.value for u in Urgency if u not in self.by_urgency]
            raise ValueError(
                f"by_type lacks {', '.join(missing)} (needed for urgency {', '.join(uncovered)}, "
                "which by_urgency does not cover)"
            )
        return self

    def limit_for(self, type_: TicketType, urgency: Urgency) -> Limit:
        return self.by_urgency.get(urgency) or self.by_type[type_]


class ExtensionRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the sum of all approved extensions of one ticket may not exceed this
    max_total_working_days: Annotated[int, Field(ge=0, le=60)] = 10


class CallingWindow(BaseModel):
    """Local time of day when agents may call citizens: ``[start, end)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        return _reject_yaml_sexagesimal(value)

    @model_validator(mode="after")
    def _ordered(self) -> CallingWindow:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after start {self.start} (same day)")
        return self


class CallbackRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the callback (回访) is due this long after the reply
    within: Limit
    window: CallingWindow
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    #: minimum time between two attempts
    retry_after_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 60
    call_days: CallDays = CallDays.ANY_DAY


class ClockRules(BaseModel):
    """The complete set of limits for one hotline (defaults merged with its overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    counting: Counting = Counting.NEXT_WORKING_DAY
    #: an N-working-day deadline ends at this local time of the N-th working day
    end_of_day: time = time(23, 59, 59)
    #: 黄灯 when this share of the allowed time has elapsed (红灯 at 100 %)
    warning_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.8
    #: more than this many working days overdue → 通报 (circular)
    circular_after_working_days: Annotated[int, Field(ge=0, le=60)] = 5
    dispatch: Limit
    sign: dict[Urgency, Limit]
    reply: ReplyLimits
    return_window: Limit
    extension: ExtensionRules = Field(default_factory=ExtensionRules)
    callback: CallbackRules

    @field_validator("end_of_day", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        return _reject_yaml_sexagesimal(value)

    @field_validator("sign")
    @classmethod
    def _sign_covers_urgencies(cls, value: dict[Urgency, Limit]) -> dict[Urgency, Limit]:
        missing = [u.value for u in Urgency if u not in value]
        if missing:
            raise ValueError(f"missing a limit for urgency {', '.join(missing)}")
        return value


class SlaPolicy(BaseModel):
    """``sla.yaml``: a version, the defaults and per-hotline overrides (already merged here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    defaults: ClockRules
    hotlines: dict[Hotline, ClockRules] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_hotline_overrides(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        defaults = data.get("defaults")
        hotlines = data.get("hotlines")
        if not isinstance(defaults, Mapping) or not hotlines:
            return data
        if not isinstance(hotlines, Mapping):
            return data  # let the field validation report it
        merged = {
            str(key): _deep_merge(defaults, value) if isinstance(value, Mapping) else value
            for key, value in hotlines.items()
        }
        return {**data, "hotlines": merged}

    def rules_for(self, hotline: Hotline | None) -> ClockRules:
        """The limits for ``hotline`` (the defaults when None or not overridden)."""
        if hotline is None:
            return self.defaults
        return self.hotlines.get(hotline, self.defaults)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = out.get(key)
        is_limit = isinstance(value, Mapping) and bool(_LIMIT_KEYS & set(value))
        if isinstance(value, Mapping) and isinstance(current, Mapping) and not is_limit:
            out[key] = _deep_merge(current, value)
        else:
            out[key] = value
    return out


def parse_sla_policy(raw: Any, *, source: str = SLA_FILE) -> SlaPolicy:
    """Validate an already-parsed policy document; raises :class:`SlaPolicyError`."""
    if not isinstance(raw, Mapping):
        raise SlaPolicyError(source, [f"expected a mapping at the top level, got {type(raw).__name__}"])
    try:
        return SlaPolicy.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise SlaPolicyError(source, problems) from exc


def load_sla_policy(config_dir: Path) -> SlaPolicy:
    """Read and validate ``<config_dir>/sla.yaml`` (call once at start-up)."""
    path = config_dir / SLA_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SlaPolicyError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise SlaPolicyError(str(path), [f"not valid YAML: {exc}"]) from exc
    return parse_sla_policy(raw, source=str(path))
