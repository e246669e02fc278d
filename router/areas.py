"""Where a work order is: the Shandong gazetteer and the area resolver (DESIGN §5). Pure after loading.

``AreaResolver.resolve`` places a ticket at a GB/T 2260 code (4 digits: city, 6 digits: district) from,
in order of precedence:

1. an explicit, known ``area_code``;
2. a district / county name in ``address``; 3. a city name in ``address``; 4. a landmark in ``address``;
5. the plate prefix on ``plate_no`` or in the text (鲁A12345 → 济南);
6. district, 7. city, 8. landmark names in the title, content and company.

A district implies its city. When the deciding evidence names only a city, a later piece of evidence
that names a district *in that same city* refines it (plate 鲁A + "历下区" in the content → 370102).
A district name that two cities share (市中区) only counts when one of those cities is in the ticket.

Matching is one compiled, trie-shaped regular expression over all names (longest name wins at each
position), so resolving costs a handful of C-level regex scans per ticket.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.files import read_yaml
from router.classification import AreaMatch, TicketText

AREAS_FILE = "areas.yaml"
_NAME_SUFFIXES = ("区", "县", "市")

CityCode = str  # 4 digits
AreaCode = str  # 4 or 6 digits


class GazetteerError(ValueError):
    """``areas.yaml`` is missing, malformed or inconsistent; the message says where and what."""


# --------------------------------------------------------------------------- the YAML file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistrictEntry(_Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=2)
    #: the suffix-less form: derived (历下区 → 历下) when omitted, ``false`` to disable, or explicit
    short: str | bool | None = None
    aliases: tuple[str, ...] = ()
    #: the name exists outside Shandong too: it resolves to the district only with its city present
    needs_city: bool = False

    def surfaces(self) -> list[str]:
        names = [self.name, *self.aliases]
        if isinstance(self.short, str):
            names.append(self.short)
        elif self.short is None:
            short = _strip_suffix(self.name)
            if short is not None:
                names.append(short)
        return names


class LandmarkEntry(_Strict):
    name: str = Field(min_length=2)
    #: the district (or the city) it lies in; the city when omitted
    code: str | None = Field(default=None, pattern=r"^\d{4}(\d{2})?$")
    aliases: tuple[str, ...] = ()


class CityEntry(_Strict):
    code: str = Field(pattern=r"^\d{4}$")
    name: str = Field(min_length=2)
    aliases: tuple[str, ...] = ()
    #: ``false``: the suffix-less name (日照) counts in an address only, not in the title/content
    short_in_text: bool = True
    plates: tuple[str, ...] = ()
    districts: tuple[DistrictEntry, ...] = ()
    landmarks: tuple[LandmarkEntry, ...] = ()

    @field_validator("plates")
    @classmethod
    def _plate_letters(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for letter in v:
            if len(letter) != 1 or not ("A" <= letter <= "Z"):
                raise ValueError(f"plate {letter!r}: expected one capital letter A-Z (the letter after 鲁)")
        return v

    @model_validator(mode="after")
    def _codes_inside_city(self) -> CityEntry:
        codes = {d.code for d in self.districts}
        for d in self.districts:
            if not d.code.startswith(self.code):
                raise ValueError(f"district {d.name} {d.code} does not belong to city {self.code}")
        for lm in self.landmarks:
            if lm.code is not None and lm.code != self.code and lm.code not in codes:
                raise ValueError(
                    f"landmark {lm.name}: code {lm.code} is neither {self.code} nor one of its districts"
                )
        return self


class ProvinceEntry(_Strict):
    code: str = Field(pattern=r"^\d{2}$")
    name: str
    plate_char: str = Field(min_length=1, max_length=1)


class Gazetteer(_Strict):
    """The parsed ``areas.yaml``."""

    version: Literal[1]
    province: ProvinceEntry
    cities: tuple[CityEntry, ...] = Field(min_length=1)
    #: superseded codes → current code (莱芜 3712 → 济南 3701)
    legacy_codes: dict[str, str] = Field(default_factory=dict)
    #: phrases that contain a place name but are not one (市中心)
    stopwords: tuple[str, ...] = ()
    #: a name followed by one of these is a street or building named after a place (青岛路)
    street_suffixes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Gazetteer:
        seen: dict[str, str] = {}
        plates: dict[str, str] = {}
        for city in self.cities:
            if not city.code.startswith(self.province.code):
                raise ValueError(f"city {city.name} {city.code} is not in province {self.province.code}")
            for code, name in [(city.code, city.name), *((d.code, d.name) for d in city.districts)]:
                if code in seen:
                    raise ValueError(f"code {code} is used twice ({seen[code]}, {name})")
                seen[code] = name
            for letter in city.plates:
                if letter in plates:
                    raise ValueError(f"plate {letter} is given to both {plates[letter]} and {city.code}")
                plates[letter] = city.code
        for old, new in self.legacy_codes.items():
            if new not in seen:
                raise ValueError(f"legacy_codes: {old} → {new}, but {new} is not a known code")
            if old in seen:
                raise ValueError(f"legacy_codes: {old} is a current code ({seen[old]}), not a legacy one")
        return self


def load_gazetteer(config_dir: Path) -> Gazetteer:
    """Read and validate ``<config_dir>/areas.yaml``."""
    path = config_dir / AREAS_FILE
    raw = read_yaml(path, "gazetteer", GazetteerError)
    try:
        return Gazetteer.model_validate(raw)
    except ValidationError as exc:
        raise GazetteerError(f"{path}: invalid gazetteer:\n{format_validation_errors(exc)}") from exc


def format_validation_errors(exc: ValidationError) -> str:
    """One indented line per error: where in the file, and what is wrong (with the bad value)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict | list | tuple) or value is None else f" (got {value!r})"
        lines.append(f"  {loc}: {err['msg'].removeprefix('Value error, ')}{shown}")
    return "\n".join(lines)


def _strip_suffix(name: str) -> str | None:
    if name.endswith(_NAME_SUFFIXES) and len(name) >= 3:
        return name[:-1]
    return None


# --------------------------------------------------------------------------- matching


class _Kind(IntEnum):
    STOP = 0
    CITY = 1
    DISTRICT = 2
    LANDMARK = 3


@dataclass(frozen=True, slots=True)
class _Term:
    kind: _Kind
    #: CITY: (city,); DISTRICT: candidate districts (more than one when the name is shared);
    #: LANDMARK: (city or district,); STOP: ()
    codes: tuple[str, ...]
    needs_city: bool = False
    #: a word too common to count outside an address (日照 = sunlight)
    address_only: bool = False


@dataclass(frozen=True, slots=True)
class _Hit:
    code: str
    city: str
    evidence: str

    @property
    def is_district(self) -> bool:
        return len(self.code) == 6


class _TrieNode:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _TrieNode] = {}
        self.terminal = False


def trie_regex(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, shaped as a trie so the longest word wins.

    Every alternative starts with a literal, so ``re`` can skip ahead on the set of first characters.
    """
    root = _TrieNode()
    for word in words:
        node = root
        for ch in word:
            node = node.children.setdefault(ch, _TrieNode())
        node.terminal = True

    def build(node: _TrieNode) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.children.items())]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if node.terminal else body

    if root.terminal:
        raise GazetteerError("the empty string cannot be a place name")
    return build(root)


class AreaResolver:
    """Places tickets in the gazetteer. Immutable after construction; safe to share between tasks."""

    __slots__ = (
        "_city_names",
        "_legacy",
        "_names",
        "_plate_rx",
        "_plates",
        "_province",
        "_rx",
        "_street_suffixes",
        "_terms",
    )

    def __init__(self, gazetteer: Gazetteer) -> None:
        self._province = gazetteer.province
        self._names: dict[str, str] = {gazetteer.province.code: gazetteer.province.name}
        self._city_names: dict[str, str] = {}
        self._plates: dict[str, str] = {}
        self._legacy = dict(gazetteer.legacy_codes)
        self._street_suffixes = tuple(gazetteer.street_suffixes)
        self._terms = _build_terms(gazetteer)
        for city in gazetteer.cities:
            self._names[city.code] = city.name
            self._city_names[city.code] = city.name
            for d in city.districts:
                self._names[d.code] = d.name
            for letter in city.plates:
                self._plates[letter] = city.code
        self._rx = re.compile(trie_regex(self._terms))
        letters = "".join(sorted(self._plates))
        prov = re.escape(gazetteer.province.plate_char)
        # 鲁A12345, 鲁 B·D12345, "鲁U的出租车" — a plate letter not followed by another Latin letter
        self._plate_rx = re.compile(rf"{prov}\s?([{letters}{letters.lower()}])(?![A-Za-z])")

    @classmethod
    def from_config(cls, config_dir: Path) -> AreaResolver:
        return cls(load_gazetteer(config_dir))

    # -- lookups ---------------------------------------------------------------------------

    def name(self, code: str) -> str | None:
        """Display name of a province, city or district code (370102 → 历下区)."""
        return self._names.get(self._legacy.get(code, code))

    def city_name(self, code: str) -> str | None:
        """Display name of the city a code lies in (370102 → 济南市)."""
        return self._city_names.get(self._legacy.get(code[:4], code[:4]))

    def full_name(self, code: str) -> str | None:
        """City and district together (370102 → 济南市历下区; 3701 → 济南市)."""
        city = self.city_name(code)
        if city is None:
            return None
        name = self.name(code)
        return city if name is None or name == city else city + name

    def is_known(self, code: str) -> bool:
        """A current province, city or district code of the gazetteer."""
        return code in self._names

    @property
    def city_codes(self) -> frozenset[str]:
        return frozenset(self._city_names)

    @property
    def codes(self) -> frozenset[str]:
        """Every current code: the province, its cities and districts."""
        return frozenset(self._names)

    def plate_city(self, plate: str) -> str | None:
        """The city of a Shandong plate (鲁B12345 → 3702), or None."""
        letter = self._plate_letter(plate)
        return None if letter is None else self._plates[letter]

    def _plate_letter(self, plate: str) -> str | None:
        p = unicodedata.normalize("NFKC", plate).strip().upper()
        if len(p) >= 2 and p[0] == self._province.plate_char:
            letter = p[1:].lstrip()[:1]
            return letter if letter in self._plates else None
        return None

    def normalize_code(self, code: str) -> AreaCode | None:
        """A known city or district code for ``code``, or None (province-level and foreign codes too).

        Accepts 4, 6 and 9-12 digit codes, ``370100``-style city codes and superseded codes.
        """
        code = code.strip()
        if not code.isdigit():
            return None
        if len(code) > 6:
            code = code[:6]
        if len(code) == 6 and code.endswith("00"):
            code = code[:4]
        code = self._legacy.get(code, code)
        if len(code) == 6 and code in self._names:
            return code
        if len(code) == 6:  # unknown district of a known city: at least the city
            code = code[:4]
            code = self._legacy.get(code, code)
        if len(code) == 4 and code in self._city_names:
            return code
        return None

    # -- resolving -------------------------------------------------------------------------

    def scan(self, text: str) -> list[tuple[str, str]]:
        """The place names in ``text`` as ``(name, code)`` pairs, in order (for explanations/tests).

        Shared district names give one pair per candidate.
        """
        return [(name, code) for name, term in self._scan(text) for code in term.codes]

    def resolve(self, ticket: TicketText) -> AreaMatch:
        """Where the ticket is, with the evidence that decided it; ``AreaMatch(None, None, None)``."""
        # Evidence layers in precedence order, each computed only when reached.
        address = self._scan(ticket.address) if ticket.address else []
        text_parts = [ticket.text]
        if ticket.company:
            text_parts.append(ticket.company)
        if ticket.route:
            text_parts.append(ticket.route)
        text_scan: list[tuple[str, _Term]] | None = None

        def text_terms() -> list[tuple[str, _Term]]:
            nonlocal text_scan
            if text_scan is None:
                text_scan = [(n, t) for n, t in self._scan("。".join(text_parts)) if not t.address_only]
            return text_scan

        context: set[str] | None = None

        def context_cities() -> set[str]:
            """Every city the ticket names anywhere: decides shared district names."""
            nonlocal context
            if context is None:
                context = set()
                code = self.normalize_code(ticket.area_code) if ticket.area_code else None
                if code is not None:
                    context.add(code[:4])
                for _, term in (*address, *text_terms()):
                    if term.kind in (_Kind.CITY, _Kind.LANDMARK):
                        context.add(term.codes[0][:4])
                plate = self._plate_hit(ticket)
                if plate is not None:
                    context.add(plate.city)
            return context

        layers: list[Callable[[], _Hit | None]] = [
            lambda: self._area_code_hit(ticket.area_code),
            lambda: self._district_hit(address, "address", context_cities),
            lambda: self._first(address, _Kind.CITY, "address"),
            lambda: self._first(address, _Kind.LANDMARK, "address"),
            lambda: self._plate_hit(ticket),
            lambda: self._district_hit(text_terms(), "text", context_cities),
            lambda: self._first(text_terms(), _Kind.CITY, "text"),
            lambda: self._first(text_terms(), _Kind.LANDMARK, "text"),
        ]
        for i, layer in enumerate(layers):
            hit = layer()
            if hit is None:
                continue
            if not hit.is_district:  # refine a city with a district of the same city, if any
                for later in layers[i + 1 :]:
                    more = later()
                    if more is not None and more.is_district and more.city == hit.city:
                        return AreaMatch(more.code, hit.city, f"{hit.evidence}+{more.evidence}")
            return AreaMatch(hit.code, hit.city, hit.evidence)
        return AreaMatch(None, None, None)

    def _scan(self, text: str) -> list[tuple[str, _Term]]:
        """Longest names, left to right. A name overlapping the previous one and running past it also
        counts (济南市中区 → 济南市, 市中区); a name inside a longer one does not (市中心 hides 市中)."""
        out: list[tuple[str, _Term]] = []
        rx, terms, suffixes = self._rx, self._terms, self._street_suffixes
        pos = 0
        while (m := rx.search(text, pos)) is not None:
            start, end = m.span()
            names = [(start, end)]
            p = start + 1
            while p < end:
                inner = rx.match(text, p)
                if inner is not None and inner.end() > end:
                    names.append((p, inner.end()))
                    end = inner.end()
                p += 1
            for s, e in names:
                term = terms[text[s:e]]
                if term.kind is _Kind.STOP or (suffixes and text.startswith(suffixes, e)):
                    continue
                out.append((text[s:e], term))
            pos = end
        return out

    def _area_code_hit(self, area_code: str | None) -> _Hit | None:
        if not area_code:
            return None
        code = self.normalize_code(area_code)
        return None if code is None else _Hit(code, code[:4], "area_code")

    def _plate_hit(self, ticket: TicketText) -> _Hit | None:
        if ticket.plate_no:
            letter = self._plate_letter(ticket.plate_no)
            if letter is not None:
                city = self._plates[letter]
                return _Hit(city, city, f"plate:{self._province.plate_char}{letter}")
        for text in (ticket.address, ticket.title, ticket.content):
            if not text:
                continue
            m = self._plate_rx.search(text)
            if m is not None:
                letter = m.group(1).upper()
                city = self._plates[letter]
                return _Hit(city, city, f"plate:{self._province.plate_char}{letter}")
        return None

    @staticmethod
    def _first(found: list[tuple[str, _Term]], kind: _Kind, field: str) -> _Hit | None:
        for name, term in found:
            if term.kind is kind:
                code = term.codes[0]
                return _Hit(code, code[:4], f"{field}:{name}")
        return None

    @staticmethod
    def _district_hit(
        found: list[tuple[str, _Term]], field: str, context_cities: Callable[[], set[str]]
    ) -> _Hit | None:
        """The first district that is certain; one in a city the same field names is preferred."""
        field_cities = {t.codes[0] for _, t in found if t.kind is _Kind.CITY}
        fallback: _Hit | None = None
        city_only: _Hit | None = None
        for name, term in found:
            if term.kind is not _Kind.DISTRICT:
                continue
            codes = term.codes
            if len(codes) == 1 and not term.needs_city:
                hit = _Hit(codes[0], codes[0][:4], f"{field}:{name}")
            else:
                cities = field_cities or context_cities()
                candidates = [c for c in codes if c[:4] in cities]
                if len(candidates) == 1:
                    hit = _Hit(candidates[0], candidates[0][:4], f"{field}:{name}")
                else:
                    if len(codes) == 1 and city_only is None:  # Shandong has one: return its city
                        city_only = _Hit(codes[0][:4], codes[0][:4], f"{field}:{name}")
                    continue
            if not field_cities or hit.city in field_cities:
                return hit
            fallback = fallback or hit
        return fallback or city_only


def _build_terms(gazetteer: Gazetteer) -> dict[str, _Term]:
    """Every matchable name → what it means. Raises ``GazetteerError`` on conflicting names."""
    terms: dict[str, _Term] = {}
    districts: dict[str, dict[str, bool]] = {}  # name → {code: needs_city}

    def put(name: str, term: _Term, what: str) -> None:
        old = terms.get(name)
        if old is not None and old != term:
            raise GazetteerError(
                f"{AREAS_FILE}: the name {name!r} ({what}) is already used for {old.kind.name.lower()} "
                f"{', '.join(old.codes) or '(stopword)'}; give one of them short: false or rename it"
            )
        terms[name] = term

    for city in gazetteer.cities:
        for name in dict.fromkeys([city.name, *city.aliases]):
            put(name, _Term(_Kind.CITY, (city.code,)), f"city {city.code}")
        short = _strip_suffix(city.name)
        if short is not None:
            term = _Term(_Kind.CITY, (city.code,), address_only=not city.short_in_text)
            put(short, term, f"city {city.code}")
        for d in city.districts:
            for name in d.surfaces():
                entry = districts.setdefault(name, {})
                entry[d.code] = entry.get(d.code, False) or d.needs_city
    for name, codes in districts.items():
        put(name, _Term(_Kind.DISTRICT, tuple(codes), any(codes.values())), f"district {', '.join(codes)}")
    for city in gazetteer.cities:
        for lm in city.landmarks:
            for name in (lm.name, *lm.aliases):
                put(name, _Term(_Kind.LANDMARK, (lm.code or city.code,)), f"landmark {lm.name}")
    for word in gazetteer.stopwords:
        if word in terms and terms[word].kind is not _Kind.STOP:
            raise GazetteerError(f"{AREAS_FILE}: stopword {word!r} is also a place name")
        terms[word] = _Term(_Kind.STOP, ())
    return terms
