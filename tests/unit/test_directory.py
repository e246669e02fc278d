"""The departments directory (config/data/departments.yaml) and its validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from config.directory import Department, Directory, DirectoryError, load_directory
from config.settings import PACKAGED_CONFIG_DIR
from router.areas import load_gazetteer
from schemas.v1.vocab import Domain, Hotline, Transport

SLUGS = {
    "3701": "jinan", "3702": "qingdao", "3703": "zibo", "3704": "zaozhuang", "3705": "dongying",
    "3706": "yantai", "3707": "weifang", "3708": "jining", "3709": "taian", "3710": "weihai",
    "3711": "rizhao", "3713": "linyi", "3714": "dezhou", "3715": "liaocheng", "3716": "binzhou",
    "3717": "heze",
}  # fmt: skip
TRANSPORT_UNITS = {
    "taxi": {Transport.TAXI, Transport.RIDE_HAILING},
    "transit": {Transport.BUS, Transport.METRO},
    "road-transport": {Transport.ROAD_PASSENGER, Transport.ROAD_FREIGHT, Transport.TRAINING_REPAIR},
    "roads": {Transport.HIGHWAY, Transport.CONSTRUCTION},
    "enforcement": {Transport.ENFORCEMENT, Transport.OTHER},
}
NON_TRANSPORT = set(Domain) - {Domain.TRANSPORT}


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(PACKAGED_CONFIG_DIR)


def test_every_city_has_its_12345_centre_and_five_transport_units(directory: Directory) -> None:
    for city, slug in SLUGS.items():
        centre = directory.department(f"{slug}-12345")
        assert (centre.side, centre.kind, centre.areas) == (Hotline.H12345, "centre", (city,))
        assert set(centre.domains) == NON_TRANSPORT
        assert directory.centre(Hotline.H12345, city) == centre
        for unit, subdomains in TRANSPORT_UNITS.items():
            d = directory.department(f"{slug}-{unit}")
            assert (d.side, d.kind, d.areas) == (Hotline.H12328, "unit", (city,)), d.code
            assert set(d.transport) == subdomains, d.code


def test_every_city_has_domain_bureaus(directory: Directory) -> None:
    for city, slug in SLUGS.items():
        for domain in NON_TRANSPORT - {Domain.OTHER}:
            found = [d for d in directory.handling(domain, None, city) if d.kind == "bureau"]
            assert [d.code.split("-")[0] for d in found] == [slug], (city, domain)


def test_province_wide_departments(directory: Directory) -> None:
    assert directory.department("sd-expressway").transport == (Transport.EXPRESSWAY,)
    assert directory.department("sd-waterway").transport == (Transport.WATERWAY,)
    assert directory.department("sd-expressway").province_wide
    assert directory.centre(Hotline.H12328, None) == directory.department("sd-12328")
    assert directory.centre(Hotline.H12345, None) == directory.department("sd-12345")


def test_every_transport_subdomain_has_a_unit_in_every_city(directory: Directory) -> None:
    for city in SLUGS:
        for t in Transport:
            assert directory.handling(Domain.TRANSPORT, t, city), (city, t)


def test_codes_are_valid_and_unique(directory: Directory) -> None:
    codes = directory.codes()
    assert len(codes) == len(set(codes)) >= 16 * 12 + 4
    assert all(re.fullmatch(r"[a-z0-9-]+", c) for c in codes)
    assert directory.department("jinan-taxi").queue == "dept.jinan-taxi"


def test_area_codes_are_known_cities(directory: Directory) -> None:
    g = load_gazetteer(PACKAGED_CONFIG_DIR)
    known = {c.code for c in g.cities}
    for d in directory:
        assert set(d.areas) <= known, d.code


def test_parents_exist(directory: Directory) -> None:
    for d in directory:
        assert d.parent is None or d.parent in directory


def test_unknown_department_names_the_code(directory: Directory) -> None:
    with pytest.raises(KeyError, match="nowhere-taxi"):
        directory.department("nowhere-taxi")
    assert directory.get("nowhere-taxi") is None


def test_serves_districts_of_its_city() -> None:
    d = Department(
        code="x", name="x", side=Hotline.H12328, kind="unit", domains=(Domain.TRANSPORT,),
        transport=(Transport.TAXI,), areas=("3701",),
    )  # fmt: skip
    assert d.serves("370102") and d.serves("3701")
    assert not d.serves("3702") and not d.serves(None)


# -- validation errors ----------------------------------------------------------------------


def write(tmp_path: Path, departments: list[dict[str, object]]) -> Path:
    (tmp_path / "departments.yaml").write_text(
        yaml.safe_dump({"version": 1, "departments": departments}, allow_unicode=True), encoding="utf-8"
    )
    (tmp_path / "areas.yaml").write_text(
        (PACKAGED_CONFIG_DIR / "areas.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return tmp_path


GOOD: dict[str, object] = {
    "code": "jinan-taxi",
    "name": "济南出租",
    "side": "12328",
    "kind": "unit",
    "domains": ["交通运输"],
    "transport": ["出租汽车"],
    "areas": ["3701"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "Jinan.Taxi"}, r"departments\.0 \(Jinan\.Taxi\)\.code: String should match pattern"),
        ({"domains": ["交通"]}, r"departments\.0 \(jinan-taxi\)\.domains\.0: Input should be .*'交通'"),
        ({"transport": ["飞机"]}, r"\.transport\.0: Input should be"),
        ({"side": "12306"}, r"\.side: Input should be '12328' or '12345'"),
        ({"areas": ["1101"]}, r"areas: unknown area code '1101'"),
        ({"working_hours": "8:30-17:30"}, r"working_hours '8:30-17:30': expected HH:MM-HH:MM"),
        ({"domains": ["城乡建设"], "transport": []}, r"12328-side department handles 交通运输 only"),
        ({"transport": []}, r"must list the 交通运输 sub-domains"),
        ({"parent": "nobody"}, r"parent 'nobody' is not in the directory"),
        ({"colour": "red"}, r"colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_entries_are_reported_clearly(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(DirectoryError, match=message) as info:
        load_directory(write(tmp_path, [{**GOOD, **change}]))
    assert "departments.yaml" in str(info.value)


def test_duplicate_codes_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match=r"departments\.1 \(jinan-taxi\): duplicate code"):
        load_directory(write(tmp_path, [GOOD, GOOD]))


def test_two_centres_for_one_city_are_rejected(tmp_path: Path) -> None:
    centre: dict[str, object] = {
        "code": "a",
        "name": "A",
        "side": "12345",
        "kind": "centre",
        "areas": ["3701"],
    }
    with pytest.raises(DirectoryError, match="second 12345 centre"):
        load_directory(write(tmp_path, [centre, {**centre, "code": "b"}]))


def test_not_yaml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "departments.yaml").write_text("departments: [", encoding="utf-8")
    with pytest.raises(DirectoryError, match="not valid YAML"):
        load_directory(tmp_path, known_areas={"37"})


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot read the departments directory"):
        load_directory(tmp_path)
