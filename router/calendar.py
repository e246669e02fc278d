"""The official working-day calendar of mainland China (DESIGN §7).

A day is a *working day* unless it is a Saturday or Sunday or a public holiday — except that a
weekend day the State Council declares a make-up workday (调休上班) is a working day. The schedule
for a year is published by the General Office of the State Council each November for the following
year, so the calendar always knows a limited set of years:

* the years the ``chinesecalendar`` package ships (it raises for any other year), and
* the years the operator marks ``complete: true`` in ``calendar_overrides.yaml``.

For any other year the calendar still answers — weekends are days off, statutory holidays count
where the data has them (the operator may list them with ``complete: false``), and no make-up
workdays are assumed — but results that touch such a year are *provisional* (see
:meth:`WorkCalendar.is_range_known`). :attr:`WorkCalendar.version` is a digest of the effective data,
so it changes exactly when the answers may change; the service stores it with each ticket to find the
deadlines that need recomputing.

Everything here is pure except :meth:`WorkCalendar.from_config` (reads the override file) and
:meth:`WorkCalendar.from_package` (reads the package's tables once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from config.files import load_yaml

DEFAULT_TZ = "Asia/Shanghai"
OVERRIDES_FILE = "calendar_overrides.yaml"
#: no real schedule has this many consecutive days off; a longer search means broken data
_MAX_SEARCH_DAYS = 370
_ONE_DAY = timedelta(days=1)


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone reached code that only accepts aware datetimes."""

    def __init__(self, what: str, value: datetime) -> None:
        super().__init__(f"{what} must be timezone-aware (e.g. 2026-02-13T14:00:00+08:00), got {value!r}")
        self.what = what
        self.value = value


class CalendarDataError(ValueError):
    """The calendar data (package or override file) is unusable; the message says where and why."""


# --------------------------------------------------------------------------------------------------
# The operator's override file
# --------------------------------------------------------------------------------------------------


class DateRange(BaseModel):
    """``{from: 2027-02-05, to: 2027-02-11}`` — both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    first: date = Field(alias="from")
    last: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.last < self.first:
            raise ValueError(f"range ends ({self.last}) before it starts ({self.first})")
        if (self.last - self.first).days > 31:
            raise ValueError(f"range {self.first}..{self.last} is longer than 32 days; is a year mistyped?")
        return self

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def _holiday_kind(value: Any) -> str:
    return "range" if isinstance(value, Mapping | DateRange) else "date"


#: a holiday entry: a single date, or ``{from, to}``
HolidayEntry = Annotated[
    Annotated[date, Tag("date")] | Annotated[DateRange, Tag("range")], Discriminator(_holiday_kind)
]


class YearOverride(BaseModel):
    """One year's schedule (or the part of it that is known) as the operator enters it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: true once the State Council's notice for this year is published and fully entered here
    complete: bool = False
    #: days off (a date or a ``{from, to}`` range); weekend days inside a range are harmless
    holidays: tuple[HolidayEntry, ...] = ()
    #: make-up workdays (调休上班): weekend days that are working days
    workdays: tuple[date, ...] = ()
    note: str | None = None

    def holiday_dates(self) -> frozenset[date]:
        out: set[date] = set()
        for item in self.holidays:
            out.update(item.days() if isinstance(item, DateRange) else [item])
        return frozenset(out)


class CalendarOverrides(BaseModel):
    """The whole ``calendar_overrides.yaml``: ``years: {2027: {...}, ...}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: dict[int, YearOverride] = Field(default_factory=dict)

    @field_validator("years", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _consistent(self) -> CalendarOverrides:
        problems: list[str] = []
        for year, entry in sorted(self.years.items()):
            if not 1990 <= year <= 2200:
                problems.append(f"years.{year}: not a plausible year")
                continue
            # a notice may reach into the neighbouring years (e.g. a make-up workday on 31 December
            # for the next New Year), so December before and January after are accepted too
            low, high = date(year - 1, 12, 1), date(year + 1, 1, 31)
            off = entry.holiday_dates()
            for day in sorted(off | set(entry.workdays)):
                if not low <= day <= high:
                    problems.append(f"years.{year}: {day} is not in {year} (nor in the adjacent Dec/Jan)")
            for day in sorted(off & set(entry.workdays)):
                problems.append(f"years.{year}: {day} is listed both as a holiday and as a workday")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_overrides(path: Path) -> CalendarOverrides:
    """Read and validate the operator's override file; a missing file means no overrides."""
    if not path.exists():
        return CalendarOverrides()
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CalendarDataError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        return CalendarOverrides()
    if not isinstance(raw, Mapping):
        raise CalendarDataError(f"{path}: expected a mapping with a 'years' key, got {type(raw).__name__}")
    try:
        return CalendarOverrides.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise CalendarDataError(f"{path}: {details}") from exc


# --------------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------------


def require_aware(what: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(what, value)


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC (how the service stores times)."""
    require_aware("value", value)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """An immutable working-day calendar for one time zone.

    ``holidays`` are days off, ``workdays`` are make-up workdays, ``complete_years`` the years whose
    official schedule is fully in the data. Build one with :meth:`from_config` (service),
    :meth:`from_package` or :meth:`build` (tests).
    """

    holidays: frozenset[date]
    workdays: frozenset[date]
    complete_years: frozenset[int]
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    #: digest of the effective data; changes exactly when some answer may change
    version: str = field(init=False)

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise CalendarDataError(f"dates both holiday and workday: {sorted(both)[:5]}")
        digest = hashlib.sha256()
        digest.update(str(self.tz.key).encode())
        for label, items in (
            ("years", sorted(self.complete_years)),
            ("off", sorted(self.holidays)),
            ("on", sorted(self.workdays)),
        ):
            digest.update(f"|{label}:".encode())
            digest.update(",".join(str(i) for i in items).encode())
        years = sorted(self.complete_years)
        span = f"{years[0]}-{years[-1]}" if years else "none"
        object.__setattr__(self, "version", f"cal-{span}-{digest.hexdigest()[:12]}")

    # ---------------------------------------------------------------- construction

    @classmethod
    def build(
        cls,
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        complete_years: Iterable[int] = (),
        tz: str | ZoneInfo = DEFAULT_TZ,
    ) -> WorkCalendar:
        zone = tz if isinstance(tz, ZoneInfo) else _zone(tz)
        return cls(frozenset(holidays), frozenset(workdays), frozenset(complete_years), zone)

    @classmethod
    def from_package(cls, tz: str | ZoneInfo = DEFAULT_TZ) -> WorkCalendar:
        """The State Council schedules that ``chinesecalendar`` ships, nothing else."""
        from chinese_calendar import constants

        off: frozenset[date] = frozenset(constants.holidays)
        on: frozenset[date] = frozenset(constants.workdays)
        if not off:
            raise CalendarDataError("chinesecalendar ships no holidays; is the package broken?")
        # the package answers for every year from its first to its last holiday and raises outside
        first, last = min(off).year, max(off).year
        return cls.build(holidays=off, workdays=on, complete_years=range(first, last + 1), tz=tz)

    def with_overrides(self, overrides: CalendarOverrides) -> WorkCalendar:
        """This calendar with the operator's entries applied; the operator wins on conflicts."""
        off = set(self.holidays)
        on = set(self.workdays)
        years = set(self.complete_years)
        for year, entry in overrides.years.items():
            for day in entry.holiday_dates():
                off.add(day)
                on.discard(day)
            for day in entry.workdays:
                on.add(day)
                off.discard(day)
            if entry.complete:
                years.add(year)
        return WorkCalendar.build(holidays=off, workdays=on, complete_years=years, tz=self.tz)

    @classmethod
    def from_config(cls, config_dir: Path, tz: str | ZoneInfo = DEFAULT_TZ) -> WorkCalendar:
        """Package data plus ``<config_dir>/calendar_overrides.yaml`` (start-up; raises on bad data)."""
        return cls.from_package(tz).with_overrides(load_overrides(config_dir / OVERRIDES_FILE))

    # ---------------------------------------------------------------- what is known

    @property
    def known_years(self) -> frozenset[int]:
        return self.complete_years

    def is_year_known(self, year: int) -> bool:
        return year in self.complete_years

    def is_range_known(self, first: date, last: date) -> bool:
        """True when every year from ``first`` to ``last`` (either order) has its official schedule."""
        low, high = sorted((first.year, last.year))
        return all(y in self.complete_years for y in range(low, high + 1))

    # ---------------------------------------------------------------- days

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):  # a datetime is a date too; insist on the local date
            raise TypeError("is_working_day takes a date; use calendar.local_date(dt) for a datetime")
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def working_day_on_or_after(self, day: date) -> date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day`` (``n == 0`` returns ``day`` unchanged).

        ``add_working_days(add_working_days(d, n), m) == add_working_days(d, n + m)`` for all n, m ≥ 0.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        current = day
        remaining = n
        gap = 0
        while remaining:
            current += _ONE_DAY
            if self.is_working_day(current):
                remaining -= 1
                gap = 0
            else:
                gap += 1
                if gap > _MAX_SEARCH_DAYS:
                    raise CalendarDataError(f"no working day within {_MAX_SEARCH_DAYS} days after {day}")
        return current

    def working_days_between(self, after: date, up_to: date) -> int:
        """How many working days ``d`` satisfy ``after < d <= up_to`` (0 when ``up_to <= after``)."""
        count = 0
        day = after + _ONE_DAY
        while day <= up_to:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return count

    # ---------------------------------------------------------------- local time

    def local(self, value: datetime) -> datetime:
        """The same instant in the calendar's time zone (raises on naive datetimes)."""
        require_aware("datetime", value)
        return value.astimezone(self.tz)

    def local_date(self, value: datetime) -> date:
        return self.local(value).date()

    def at(self, day: date, moment: time) -> datetime:
        """The aware local datetime of ``moment`` on ``day``."""
        return datetime.combine(day, moment.replace(tzinfo=None), tzinfo=self.tz)

    def start_of_day(self, day: date) -> datetime:
        return self.at(day, time(0))

    # ---------------------------------------------------------------- working time

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The part of ``[start, end)`` that falls on working days (whole local days count).

        This is how "80 % of the allowed time" is measured for working-day clocks.
        """
        require_aware("start", start)
        require_aware("end", end)
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = self.local_date(start)
        last = self.local_date(end)
        while day <= last:
            if self.is_working_day(day):
                lo = max(start, self.start_of_day(day))
                hi = min(end, self.start_of_day(day + _ONE_DAY))
                if hi > lo:
                    total += hi.astimezone(UTC) - lo.astimezone(UTC)
            day += _ONE_DAY
        return total

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        return self.working_time_between(start, end).total_seconds()

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant ``t >= start`` with ``working_time_between(start, t) == amount``."""
        require_aware("start", start)
        if amount < timedelta(0):
            raise ValueError(f"amount must be >= 0, got {amount}")
        cursor = self.local(start)
        remaining = amount
        gap = 0
        while True:
            day = cursor.date()
            next_midnight = self.start_of_day(day + _ONE_DAY)
            if self.is_working_day(day):
                gap = 0
                available = next_midnight.astimezone(UTC) - cursor.astimezone(UTC)
                if remaining <= available:
                    return (cursor.astimezone(UTC) + remaining).astimezone(self.tz)
                remaining -= available
            else:
                gap += 1
                if gap > _MAX_SEARCH_DAYS:
                    raise CalendarDataError(f"no working day within {_MAX_SEARCH_DAYS} days after {start}")
            cursor = next_midnight

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        return self.add_working_time(start, timedelta(seconds=seconds))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarDataError(f"unknown time zone {name!r}") from exc


def chinesecalendar_version() -> str | None:
    """The installed ``chinesecalendar`` version (for logs and docs), or None."""
    try:
        return package_version("chinesecalendar")
    except PackageNotFoundError:
        return None
