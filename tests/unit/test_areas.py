"""The Shandong gazetteer and the area resolver (DESIGN §5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import PACKAGED_CONFIG_DIR
from router.areas import AreaResolver, GazetteerError, load_gazetteer, trie_regex
from router.classification import AreaMatch, TicketText
from schemas.v1.vocab import Hotline

CITIES = {
    "3701": "济南市",
    "3702": "青岛市",
    "3703": "淄博市",
    "3704": "枣庄市",
    "3705": "东营市",
    "3706": "烟台市",
    "3707": "潍坊市",
    "3708": "济宁市",
    "3709": "泰安市",
    "3710": "威海市",
    "3711": "日照市",
    "3713": "临沂市",
    "3714": "德州市",
    "3715": "聊城市",
    "3716": "滨州市",
    "3717": "菏泽市",
}
PLATES = {
    "A": "3701", "B": "3702", "U": "3702", "C": "3703", "D": "3704", "E": "3705", "F": "3706",
    "Y": "3706", "G": "3707", "V": "3707", "H": "3708", "J": "3709", "K": "3710", "L": "3711",
    "M": "3716", "N": "3714", "P": "3715", "Q": "3713", "R": "3717", "S": "3701",
}  # fmt: skip


@pytest.fixture(scope="module")
def resolver() -> AreaResolver:
    return AreaResolver.from_config(PACKAGED_CONFIG_DIR)


def where(resolver: AreaResolver, content: str = "乘车遇到问题", **fields: str) -> AreaMatch:
    return resolver.resolve(TicketText(hotline=Hotline.H12328, content=content, **fields))  # type: ignore[arg-type]


# -- the data -------------------------------------------------------------------------------


def test_all_sixteen_cities_with_their_codes(resolver: AreaResolver) -> None:
    assert resolver.city_codes == frozenset(CITIES)
    for code, name in CITIES.items():
        assert resolver.name(code) == name


def test_laiwu_is_part_of_jinan() -> None:
    g = load_gazetteer(PACKAGED_CONFIG_DIR)
    jinan = next(c for c in g.cities if c.code == "3701")
    assert {d.code: d.name for d in jinan.districts} == {
        "370102": "历下区", "370103": "市中区", "370104": "槐荫区", "370105": "天桥区", "370112": "历城区",
        "370113": "长清区", "370114": "章丘区", "370115": "济阳区", "370116": "莱芜区", "370117": "钢城区",
        "370124": "平阴县", "370126": "商河县",
    }  # fmt: skip
    assert not any(c.code == "3712" for c in g.cities)


def test_every_city_has_districts_and_a_plate() -> None:
    g = load_gazetteer(PACKAGED_CONFIG_DIR)
    for city in g.cities:
        assert len(city.districts) >= 4, city.name
        assert city.plates, city.name
        assert all(d.code[:4] == city.code for d in city.districts)
    assert sum(len(c.districts) for c in g.cities) == 136  # Shandong's county-level divisions


@pytest.mark.parametrize(("letter", "city"), sorted(PLATES.items()))
def test_plate_prefixes(resolver: AreaResolver, letter: str, city: str) -> None:
    m = where(resolver, plate_no=f"鲁{letter}12345")
    assert (m.code, m.city, m.evidence) == (city, city, f"plate:鲁{letter}")


def test_lookups_for_display(resolver: AreaResolver) -> None:
    assert resolver.name("370102") == "历下区"
    assert resolver.city_name("370102") == "济南市"
    assert resolver.full_name("370102") == "济南市历下区"
    assert resolver.full_name("3702") == "青岛市"
    assert resolver.name("37") == "山东省"
    assert resolver.name("1101") is None
    assert resolver.city_name("3712") == "济南市"  # 莱芜 legacy


# -- precedence -----------------------------------------------------------------------------


def test_address_district_implies_city(resolver: AreaResolver) -> None:
    assert where(resolver, address="济南市历下区泉城路") == AreaMatch("370102", "3701", "address:历下区")


def test_plate_b_is_qingdao(resolver: AreaResolver) -> None:
    assert where(resolver, plate_no="鲁B12345") == AreaMatch("3702", "3702", "plate:鲁B")


def test_explicit_area_code_wins(resolver: AreaResolver) -> None:
    m = where(resolver, area_code="370202", address="济南市历下区", plate_no="鲁A12345")
    assert m == AreaMatch("370202", "3702", "area_code")


def test_unknown_or_foreign_area_code_falls_through(resolver: AreaResolver) -> None:
    assert where(resolver, area_code="1101", address="历下区") == AreaMatch(
        "370102", "3701", "address:历下区"
    )
    assert where(resolver, area_code="37").code is None


def test_area_code_forms(resolver: AreaResolver) -> None:
    assert where(resolver, area_code="370100").code == "3701"
    assert where(resolver, area_code="3712").code == "3701"  # 莱芜市 merged into 济南
    assert where(resolver, area_code="371202").code == "370116"  # 莱城区 → 莱芜区
    assert where(resolver, area_code="370102001000").code == "370102"  # street-level code


def test_city_area_code_refined_by_address_district(resolver: AreaResolver) -> None:
    m = where(resolver, area_code="3701", address="章丘区明水街道")
    assert m == AreaMatch("370114", "3701", "area_code+address:章丘区")


def test_district_beats_city_in_address(resolver: AreaResolver) -> None:
    assert where(resolver, address="青岛市即墨区").code == "370215"


def test_city_then_landmark_in_address(resolver: AreaResolver) -> None:
    assert where(resolver, address="济南市") == AreaMatch("3701", "3701", "address:济南市")
    assert where(resolver, address="济南西站出租车候车区") == AreaMatch("370104", "3701", "address:济南西站")


def test_address_beats_plate(resolver: AreaResolver) -> None:
    assert where(resolver, address="烟台市芝罘区", plate_no="鲁A12345").code == "370602"


def test_plate_beats_text(resolver: AreaResolver) -> None:
    m = where(resolver, content="我在青岛打车", plate_no="鲁A12345")
    assert m == AreaMatch("3701", "3701", "plate:鲁A")


def test_plate_in_text(resolver: AreaResolver) -> None:
    assert where(resolver, content="车牌号鲁U·T1234的出租车拒载").evidence == "plate:鲁U"
    assert where(resolver, content="鲁 H12345 大货车超载").city == "3708"


def test_plate_refined_by_district_in_text(resolver: AreaResolver) -> None:
    m = where(resolver, content="鲁A12345出租车在历下区拒载")
    assert m == AreaMatch("370102", "3701", "plate:鲁A+text:历下区")


def test_non_shandong_plate_is_no_evidence(resolver: AreaResolver) -> None:
    assert where(resolver, plate_no="京A12345") == AreaMatch(None, None, None)


def test_text_landmark(resolver: AreaResolver) -> None:
    assert where(resolver, content="在青岛站门口打车被拒载") == AreaMatch("370202", "3702", "text:青岛站")
    assert where(resolver, content="去泰山旅游的大巴") == AreaMatch("3709", "3709", "text:泰山")
    assert where(resolver, content="曲阜三孔景区门口黑车拉客").code == "370881"


def test_nothing_known(resolver: AreaResolver) -> None:
    assert where(resolver, content="公交车司机态度差") == AreaMatch(None, None, None)


# -- names: suffixes, short forms, false positives ------------------------------------------


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("历下区", "370102"),
        ("历下", "370102"),
        ("章丘区", "370114"),
        ("章丘", "370114"),
        ("济南市", "3701"),
        ("济南", "3701"),
        ("即墨市", "370215"),  # the former name
        ("西海岸新区", "370211"),
        ("曹县", "371721"),
        ("东营市东营区", "370502"),
        ("东营", "3705"),
    ],
)
def test_names_with_and_without_suffix(resolver: AreaResolver, address: str, code: str) -> None:
    assert where(resolver, address=address).code == code


def test_shizhong_not_matched_inside_city_centre(resolver: AreaResolver) -> None:
    assert where(resolver, content="在市中心打车被拒载") == AreaMatch(None, None, None)
    assert where(resolver, address="济南市中心医院").code == "3701"


def test_ambiguous_district_needs_its_city(resolver: AreaResolver) -> None:
    assert where(resolver, address="市中区英雄山路") == AreaMatch(None, None, None)
    assert where(resolver, address="济南市市中区").code == "370103"
    assert where(resolver, address="济南市中区").code == "370103"
    assert where(resolver, address="枣庄市市中区").code == "370402"
    assert where(resolver, address="市中区光明路", plate_no="鲁D12345").code == "370402"


def test_district_that_exists_elsewhere_returns_city_only_without_city(resolver: AreaResolver) -> None:
    assert where(resolver, address="河东区") == AreaMatch("3713", "3713", "address:河东区")
    assert where(resolver, address="临沂市河东区").code == "371312"


def test_generic_zones_do_not_resolve(resolver: AreaResolver) -> None:
    assert where(resolver, address="高新区") == AreaMatch(None, None, None)
    assert where(resolver, address="济南高新区").code == "3701"


def test_streets_named_after_cities(resolver: AreaResolver) -> None:
    assert where(resolver, address="青岛市市南区济南路").code == "370202"
    assert where(resolver, address="青岛市济南路88号").code == "3702"
    assert where(resolver, address="泰山路12号") == AreaMatch(None, None, None)


def test_common_words_are_not_places(resolver: AreaResolver) -> None:
    for text in (
        "楼间距太近影响日照采光",
        "安全责任重于泰山",
        "家长清楚情况",
        "提高密度",
        "上天桥的台阶坏了",
    ):
        assert where(resolver, content=text) == AreaMatch(None, None, None), text
    assert where(resolver, address="日照市东港区").code == "371102"
    assert where(resolver, address="日照").code == "3711"  # bare 日照 counts in an address


def test_scan_lists_overlapping_names(resolver: AreaResolver) -> None:
    assert resolver.scan("济南市中区") == [("济南市", "3701"), ("市中区", "370103"), ("市中区", "370402")]


# -- the regex and the loader ---------------------------------------------------------------


def test_trie_regex_prefers_longest() -> None:
    import re

    rx = re.compile(trie_regex(["济南", "济南市", "济南西站", "青岛"]))
    assert [m.group() for m in rx.finditer("济南西站到济南市再到青岛和济南")] == [
        "济南西站",
        "济南市",
        "青岛",
        "济南",
    ]


def test_conflicting_names_are_rejected(tmp_path: Path) -> None:
    text = (PACKAGED_CONFIG_DIR / "areas.yaml").read_text(encoding="utf-8")
    # give 东营区 its suffix-less form back: it collides with the city 东营
    (tmp_path / "areas.yaml").write_text(
        text.replace('{code: "370502", name: 东营区, short: false}', '{code: "370502", name: 东营区}'),
        encoding="utf-8",
    )
    with pytest.raises(GazetteerError, match="'东营'"):
        AreaResolver.from_config(tmp_path)


def test_bad_codes_are_reported_with_their_place(tmp_path: Path) -> None:
    shutil.copy(PACKAGED_CONFIG_DIR / "areas.yaml", tmp_path / "areas.yaml")
    p = tmp_path / "areas.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace('"370102"', '"370202"', 1), encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"cities\.0.*does not belong to city 3701"):
        load_gazetteer(tmp_path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match=r"areas\.yaml: cannot read"):
        load_gazetteer(tmp_path)


@given(
    address=st.one_of(st.none(), st.text(max_size=60)),
    content=st.text(min_size=1, max_size=200),
    plate=st.one_of(st.none(), st.text(max_size=10)),
    area_code=st.one_of(st.none(), st.from_regex(r"\d{4}(\d{2})?", fullmatch=True)),
)
@settings(max_examples=300, deadline=None)
def test_resolve_is_total_and_returns_known_codes(
    resolver: AreaResolver, address: str | None, content: str, plate: str | None, area_code: str | None
) -> None:
    m = resolver.resolve(
        TicketText(
            hotline=Hotline.H12345, content=content, address=address, plate_no=plate, area_code=area_code
        )
    )
    if m.code is None:
        assert m == AreaMatch(None, None, None)
    else:
        assert resolver.is_known(m.code) and m.city == m.code[:4] and m.evidence
