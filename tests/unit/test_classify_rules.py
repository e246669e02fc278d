"""The operator's lexicon: rules fire on the words they list, and an added keyword takes effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.classifier import (
    ClassifierConfigError,
    load_classifier_config,
    normalise_text,
    parse_classifier_config,
)
from config.settings import PACKAGED_CONFIG_DIR
from router.classification import TicketText
from router.classify.combine import decide_transport, decide_type, decide_urgency
from router.classify.rules import Lexicon, RuleSet
from schemas.v1.vocab import Hotline, TicketType, Urgency


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PACKAGED_CONFIG_DIR / "classifier.yaml").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon(load_classifier_config(PACKAGED_CONFIG_DIR))


def _ticket(text: str, **kw: Any) -> TicketText:
    return TicketText(hotline=Hotline.H12328, content=text, **kw)


def test_refusing_passengers_is_a_taxi_complaint(lexicon: Lexicon) -> None:
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    text = "乘客反映鲁A12345出租车司机拒载，要求处理"
    hits = lexicon.match(normalise_text(text))
    assert decide_transport(hits, config).label == "出租汽车"
    assert decide_type(_ticket(text), hits, config).label == TicketType.COMPLAINT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # one life threatened is 紧急 (DESIGN §5); many people in danger now is 特急
        ("来电人情绪激动，扬言要跳楼", {Urgency.URGENT}),
        ("高速上多车连环追尾，有人被卡在车里出不来", {Urgency.CRITICAL}),
        ("父亲有老年痴呆，早上出门后一直没回来", {Urgency.URGENT}),
        ("公交车尾部冒烟，乘客已经下车", {Urgency.URGENT}),
        ("车加了油以后打不着火，要求加油站赔偿", {Urgency.NORMAL}),
        ("小区楼道起火了，浓烟很大", {Urgency.CRITICAL}),
        ("电梯故障，有老人被困在里面", {Urgency.URGENT, Urgency.CRITICAL}),
        ("高速上两车追尾，车辆停在行车道", {Urgency.URGENT, Urgency.CRITICAL}),
        ("咨询ETC怎么办理", {Urgency.NORMAL}),
        # many people poisoned or trapped at once; a vulnerable person missing (round 7)
        ("婚宴后已有三十多名村民出现呕吐、腹泻症状", {Urgency.CRITICAL}),
        ("山洪进村，二十多名村民被困在屋顶", {Urgency.CRITICAL}),
        ("其父亲78岁有老年痴呆，上午出门赶集后至今未回家", {Urgency.URGENT}),
    ],
)
def test_urgency_rules(lexicon: Lexicon, text: str, expected: set[Urgency]) -> None:
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    hits = lexicon.match(normalise_text(text))
    assert decide_urgency(_ticket(text), hits, config).label in {u.value for u in expected}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # asking where to complain is a question, though it names 投诉
        ("来电人想问航班延误该去哪里投诉", TicketType.CONSULT),
        # the caller's own truck fined for overloading: not a report about someone else
        ("来电人称其货车被执法人员查超载罚款，认为罚得太重", TicketType.COMPLAINT),
        # a third party burning rubbish is reported
        ("来电人反映邻居每天在院子里烧垃圾，黑烟很大", TicketType.REPORT),
        # asking for someone to come now is a request for help
        ("楼上外墙瓷砖往下掉，请物业马上拉警戒", TicketType.HELP),
        # "请求…派人/维修/协调" asks for something to be done, even in a story of wrongs (round 7)
        ("来电人反映小区地下车库进水，物业电话没人接，请求相关部门尽快派人排水", TicketType.HELP),
        ("来电人称包工头拖欠其工资半年，请求劳动监察部门协调解决", TicketType.HELP),
        ("来电人要求对拖欠工资的包工头依法查处", TicketType.COMPLAINT),
        # the caller driving and fined: a complaint about the fine, not a report of 超限
        ("来电人驾驶货车途经检测站时，被执法人员以超限为由罚款2000元，认为称重有误", TicketType.COMPLAINT),
        # 询问 in the story (the caller asked the staff) does not make the ticket a question
        ("来电人在服务台询问，工作人员态度冷淡，要求处理", TicketType.COMPLAINT),
    ],
)
def test_type_rules(lexicon: Lexicon, text: str, expected: TicketType) -> None:
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    hits = lexicon.match(normalise_text(text))
    assert decide_type(_ticket(text), hits, config).label == expected


def test_urgent_words_override_the_agents_tick(lexicon: Lexicon) -> None:
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    text = "农民工讨薪，扬言不给钱就从楼顶跳下去"
    hits = lexicon.match(normalise_text(text))
    d = decide_urgency(_ticket(text, reported_urgency=Urgency.NORMAL), hits, config)
    assert d.label == Urgency.URGENT
    assert "扬言" in d.explanation


def test_agents_tick_counts_when_the_text_says_nothing(lexicon: Lexicon) -> None:
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    text = "反映小区门口道路积水"
    hits = lexicon.match(normalise_text(text))
    assert decide_urgency(_ticket(text, reported_urgency=Urgency.URGENT), hits, config).label == "紧急"
    assert decide_type(_ticket(text, reported_type=TicketType.HELP), hits, config).label == "求助"


def test_keywords_ignore_case_and_width(lexicon: Lexicon) -> None:
    for text in ("ETC重复扣费", "etc重复扣费", "ＥＴＣ重复扣费"):
        hits = lexicon.match(normalise_text(text))
        assert [h.label for h in hits.transport] == ["高速公路"]


def test_unless_blocks_a_rule(lexicon: Lexicon) -> None:
    assert not lexicon.match(normalise_text("经济高速发展")).transport


def test_rule_reports_the_words_that_fired() -> None:
    config = parse_classifier_config(
        {
            "model": {"file": "x.npz"},
            "transport": [{"name": "bus", "label": "公交", "keywords": ["公交"], "regex": ["[0-9]+路车"]}],
        },
        Path("inline"),
    )
    (hit,) = RuleSet(config.transport).match("12路车和公交")
    assert hit.words == ("公交", "12路车")
    assert hit.describe() == "bus: 公交, 12路车"


def test_operator_adds_a_keyword_without_code_changes(raw: dict[str, Any], tmp_path: Path) -> None:
    text = "反映摆渡车司机乱收费"
    config = load_classifier_config(PACKAGED_CONFIG_DIR)
    assert decide_transport(Lexicon(config).match(normalise_text(text)), config).label != "水路港航"

    edited = dict(raw)
    edited["transport"] = [
        {**r, "keywords": [*r["keywords"], "摆渡车"]} if r["name"] == "waterway" else r
        for r in raw["transport"]
    ]
    (tmp_path / "classifier.yaml").write_text(yaml.safe_dump(edited, allow_unicode=True), "utf-8")
    config = load_classifier_config(tmp_path)
    assert decide_transport(Lexicon(config).match(normalise_text(text)), config).label == "水路港航"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"transport": [{"name": "x", "label": "飞机", "keywords": ["飞机"]}]}, "not one of"),
        ({"type": [{"name": "x", "label": "投诉", "regex": ["(unclosed"]}]}, "does not compile"),
        ({"urgency": [{"name": "x", "label": "紧急"}]}, "neither keywords nor regex"),
        ({"thresholds": {"other_prior": 1.5}}, "thresholds.other_prior"),
        (
            {
                "type": [
                    {"name": "a", "label": "投诉", "keywords": ["a"]},
                    {"name": "a", "label": "投诉", "keywords": ["b"]},
                ]
            },
            "used twice",
        ),
    ],
)
def test_bad_config_is_rejected_with_a_clear_message(
    raw: dict[str, Any], tmp_path: Path, patch: dict[str, Any], message: str
) -> None:
    (tmp_path / "classifier.yaml").write_text(yaml.safe_dump({**raw, **patch}, allow_unicode=True), "utf-8")
    with pytest.raises(ClassifierConfigError) as err:
        load_classifier_config(tmp_path)
    assert message in str(err.value)
    assert "classifier.yaml" in str(err.value)


def test_a_key_given_twice_is_an_error_not_silently_the_last(tmp_path: Path) -> None:
    # plain YAML would keep only the second keywords list: the operator's first list would vanish
    source = (PACKAGED_CONFIG_DIR / "classifier.yaml").read_text("utf-8")
    doubled = source.replace("    keywords: [出租车,", "    keywords: [巡游出租]\n    keywords: [出租车,", 1)
    assert doubled != source
    (tmp_path / "classifier.yaml").write_text(doubled, "utf-8")
    with pytest.raises(ClassifierConfigError, match="found the key 'keywords' twice") as err:
        load_classifier_config(tmp_path)
    assert "line" in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ClassifierConfigError, match="cannot read"):
        load_classifier_config(tmp_path)


def test_short_keyword_inside_a_longer_word_does_not_count(lexicon: Lexicon) -> None:
    # 县道路 = county + roads (neutral word), not the 县道 road class; 县道 on its own still fires
    assert not [
        h for h in lexicon.match(normalise_text("A7县道路绿化问题得加强")).transport if h.rule == "highway"
    ]
    assert [h for h in lexicon.match(normalise_text("村口县道上有大坑")).transport if h.rule == "highway"]
    # 公路 inside 高速公路 is the expressway's word, not a second (weak highway) hit
    hits = lexicon.match(normalise_text("高速公路收费站排长队")).transport
    assert {h.rule for h in hits} >= {"expressway"} and "highway_weak" not in {h.rule for h in hits}


def test_longest_match_helper() -> None:
    from router.classify.rules import containers

    c = containers(["县道", "县道路", "公路", "高速公路"])
    assert c == {"县道": (("县道路", 0),), "公路": (("高速公路", 2),)}


def test_hotline_specific_rule_fires_only_on_its_hotline(lexicon: Lexicon) -> None:
    text = normalise_text("希望K6县也能开通公交卡")
    on_12345 = {h.rule for h in lexicon.match(text, "12345").transport}
    on_12328 = {h.rule for h in lexicon.match(text, "12328").transport}
    assert "bus_planning_12345" in on_12345
    assert "bus_planning_12345" not in on_12328 and "bus" in on_12328
    assert "bus_planning_12345" not in {h.rule for h in lexicon.match(text).transport}


def test_neutral_words_and_hotlines_are_validated(raw: dict[str, Any], tmp_path: Path) -> None:
    bad = {**raw, "neutral": [" "]}
    (tmp_path / "classifier.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), "utf-8")
    with pytest.raises(ClassifierConfigError, match="neutral"):
        load_classifier_config(tmp_path)
    bad = {**raw, "domain": [{"name": "x", "label": "城乡建设", "keywords": ["a"], "hotlines": ["110"]}]}
    (tmp_path / "classifier.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), "utf-8")
    with pytest.raises(ClassifierConfigError, match="hotlines"):
        load_classifier_config(tmp_path)
