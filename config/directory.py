"""The departments directory (承办单位名录, DESIGN §4–§5): ``config/data/departments.yaml``.

Every department that can receive a dispatch: its code (also its queue ``dept.<code>`` and its
feedback routing keys ``dept.<code>.<action>``), which hotline side it belongs to, what it handles
(domains, and for transport units the 交通运输 sub-domains), where (city codes; none = province-wide)
and when it works. ``load_directory`` validates the file against the v1 vocabulary and the gazetteer
and raises ``DirectoryError`` with every problem found, each with its place in the file.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.files import read_yaml
from router.areas import GazetteerError, load_gazetteer
from schemas.v1.vocab import Domain, Hotline, Transport

DEPARTMENTS_FILE = "departments.yaml"
CODE_PATTERN = r"^[a-z0-9-]+$"
PROVINCE = "37"
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

Kind = Literal["centre", "unit", "bureau"]


class DirectoryError(ValueError):
    """``departments.yaml`` is missing, malformed or inconsistent; the message lists every problem."""


class Department(BaseModel):
    """One department (承办单位) or hotline centre."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: lower-case ``[a-z0-9-]``, e.g. ``jinan-taxi``: the queue is ``dept.<code>``
    code: str = Field(pattern=CODE_PATTERN, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    #: the hotline side it works for: "12328" (transport) or "12345" (general government service)
    side: Hotline
    #: centre: a hotline's dispatch office (the area's general office, fallback for its side);
    #: unit: a transport-side handling unit; bureau: a 12345-side functional department
    kind: Kind
    domains: tuple[Domain, ...] = ()
    #: 交通运输 sub-domains handled (transport units only)
    transport: tuple[Transport, ...] = ()
    #: GB/T 2260 city (4 digits) or district (6 digits) codes served; empty or ["37"] = province-wide
    areas: tuple[str, ...] = ()
    #: local working hours "HH:MM-HH:MM" ("00:00-24:00" = round the clock)
    working_hours: str = "08:30-17:30"
    parent: str | None = None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        m = _HOURS.match(v)
        if m is None or (m.group(3) == "24" and m.group(4) != "00"):
            raise ValueError(f"working_hours {v!r}: expected HH:MM-HH:MM, e.g. 08:30-17:30")
        if v[:5] >= v[6:]:
            raise ValueError(f"working_hours {v!r}: the end must be after the start")
        return v

    @field_validator("areas")
    @classmethod
    def _area_shape(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for code in v:
            if not re.fullmatch(r"\d{2}|\d{4}|\d{6}", code):
                raise ValueError(f"area {code!r}: expected a GB/T 2260 code of 2, 4 or 6 digits")
        if PROVINCE in v and len(v) > 1:
            raise ValueError(f'areas: "{PROVINCE}" (province-wide) cannot be combined with other areas')
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Department:
        if self.transport and Domain.TRANSPORT not in self.domains:
            raise ValueError("has transport sub-domains but 交通运输 is not among its domains")
        if self.side is Hotline.H12328 and any(d is not Domain.TRANSPORT for d in self.domains):
            raise ValueError("a 12328-side department handles 交通运输 only")
        if self.kind == "unit" and Domain.TRANSPORT in self.domains and not self.transport:
            raise ValueError("a transport unit must list the 交通运输 sub-domains it handles (transport)")
        if self.kind != "centre" and not self.domains:
            raise ValueError(f"a {self.kind} must list its domains")
        return self

    @property
    def queue(self) -> str:
        return f"dept.{self.code}"

    @property
    def province_wide(self) -> bool:
        return not self.areas or self.areas == (PROVINCE,)

    @property
    def is_centre(self) -> bool:
        return self.kind == "centre"

    def serves(self, area: str | None) -> bool:
        """Whether the department covers a city/district code (province-wide ones cover everything)."""
        if self.province_wide:
            return True
        if area is None:
            return False
        return any(area == a or (len(a) == 4 and area.startswith(a)) for a in self.areas)

    def handles(self, domain: Domain, transport: Transport | None = None) -> bool:
        """Whether the department handles the domain (and, when given, the transport sub-domain)."""
        if domain not in self.domains:
            return False
        return transport is None or not self.transport or transport in self.transport


class DirectoryFile(BaseModel):
    """The parsed ``departments.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    departments: tuple[Department, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> DirectoryFile:
        problems: list[str] = []
        seen: set[str] = set()
        for i, d in enumerate(self.departments):
            if d.code in seen:
                problems.append(f"departments.{i} ({d.code}): duplicate code")
            seen.add(d.code)
        for i, d in enumerate(self.departments):
            if d.parent is not None and d.parent not in seen:
                problems.append(f"departments.{i} ({d.code}): parent {d.parent!r} is not in the directory")
            if d.parent == d.code:
                problems.append(f"departments.{i} ({d.code}): is its own parent")
        centres: dict[tuple[Hotline, tuple[str, ...]], str] = {}
        for i, d in enumerate(self.departments):
            if d.is_centre:
                key = (d.side, () if d.province_wide else tuple(sorted(d.areas)))
                if key in centres:
                    problems.append(
                        f"departments.{i} ({d.code}): second {d.side} centre for the same areas "
                        f"as {centres[key]}"
                    )
                centres[key] = d.code
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Directory:
    """All departments, indexed. Immutable; built by ``load_directory`` or from a ``DirectoryFile``."""

    __slots__ = ("_by_code", "_centres", "_departments", "_handlers")

    def __init__(self, departments: Collection[Department]) -> None:
        self._departments = tuple(departments)
        self._by_code = {d.code: d for d in self._departments}
        if len(self._by_code) != len(self._departments):
            raise DirectoryError("department codes must be unique")
        # indexes: routing looks up centres and handlers for every ticket
        self._centres: dict[tuple[Hotline, str | None], Department] = {}
        for d in self._departments:
            if d.is_centre:
                for area in (None,) if d.province_wide else d.areas:
                    self._centres.setdefault((d.side, area), d)
        self._handlers: dict[tuple[Domain, Transport | None], tuple[Department, ...]] = {
            (domain, t): tuple(d for d in self._departments if not d.is_centre and d.handles(domain, t))
            for domain in Domain
            for t in (None, *Transport)
        }

    @property
    def departments(self) -> tuple[Department, ...]:
        """Every department, in file order (the order breaks ties in routing)."""
        return self._departments

    def __iter__(self) -> Iterator[Department]:
        return iter(self._departments)

    def __len__(self) -> int:
        return len(self._departments)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def codes(self) -> list[str]:
        return [d.code for d in self._departments]

    def department(self, code: str) -> Department:
        """The department with this code; ``KeyError`` naming the code when there is none."""
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"unknown department {code!r}") from None

    def get(self, code: str) -> Department | None:
        return self._by_code.get(code)

    def centre(self, side: Hotline, city: str | None) -> Department | None:
        """The side's centre for a city (``None``: the provincial centre), if the directory has one."""
        return self._centres.get((side, None if city is None else city[:4]))

    def handling(self, domain: Domain, transport: Transport | None, area: str | None) -> list[Department]:
        """Non-centre departments that handle the matter in the area, most local first.

        District-specific before city-wide before province-wide; ties keep file order.
        """
        found = [d for d in self._handlers.get((domain, transport), ()) if d.serves(area)]

        def locality(d: Department) -> int:
            if d.province_wide:
                return 2
            return 0 if area is not None and area in d.areas and len(area) == 6 else 1

        return sorted(found, key=locality)


def load_directory(config_dir: Path, *, known_areas: Collection[str] | None = None) -> Directory:
    """Read and validate ``<config_dir>/departments.yaml``.

    Area codes are checked against ``known_areas`` or, by default, the gazetteer in the same
    ``config_dir`` (``areas.yaml``).
    """
    path = config_dir / DEPARTMENTS_FILE
    raw = read_yaml(path, "departments directory", DirectoryError)
    try:
        parsed = DirectoryFile.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(f"{path}: invalid departments directory:\n{_format_errors(exc, raw)}") from exc
    if known_areas is None:
        try:
            known_areas = load_gazetteer_codes(config_dir)
        except GazetteerError as exc:
            raise DirectoryError(f"{path}: cannot check area codes: {exc}") from exc
    unknown = [
        f"  departments.{i} ({d.code}).areas: unknown area code {a!r} (not in the gazetteer)"
        for i, d in enumerate(parsed.departments)
        for a in d.areas
        if a not in known_areas
    ]
    if unknown:
        raise DirectoryError(f"{path}: invalid departments directory:\n" + "\n".join(unknown))
    return Directory(parsed.departments)


def load_gazetteer_codes(config_dir: Path) -> frozenset[str]:
    """The province, city and district codes of ``<config_dir>/areas.yaml``."""
    g = load_gazetteer(config_dir)
    codes = {g.province.code}
    for city in g.cities:
        codes.add(city.code)
        codes.update(d.code for d in city.districts)
    return frozenset(codes)


def _format_errors(exc: ValidationError, raw: object) -> str:
    """One line per error: where (with the department's code when known), what, and the bad value."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "departments" and isinstance(loc[1], int) and isinstance(raw, dict):
            items = raw.get("departments")
            if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                code = items[loc[1]].get("code")
                if code is not None:
                    where = f"departments.{loc[1]} ({code})" + "".join(f".{p}" for p in loc[2:])
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        lines.append(f"  {where}: {msg}{shown}")
    return "\n".join(lines)
