"""The production classifier through the path the service uses (``build_classifier`` →
``classify_many``): short hotline tickets, our own labelled set, and the shared holdout."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config.classifier import normalise_text
from config.settings import PACKAGED_CONFIG_DIR
from router.classification import AreaMatch, TicketText
from router.classify import HotlineClassifier, ModelFileError, build_classifier
from router.classify.model import TextModel, model_text_normalised
from router.classify.training import bench_classify, evaluate_holdout
from router.routing import load_policy
from schemas.v1.vocab import Channel, Domain, Hotline, Transport

LABELLED = Path(__file__).parents[1] / "data" / "labelled_tickets.jsonl"
TUNING = Path(__file__).parents[1] / "data" / "tuning_tickets.jsonl"
SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
#: the one triage knob is config/data/routing.yaml ``triage_threshold``
TRIAGE = load_policy(PACKAGED_CONFIG_DIR).triage_threshold


class FixedAreas:
    def resolve(self, ticket: TicketText) -> AreaMatch:
        return AreaMatch("370102", "3701", "address:历下区")


@pytest.fixture(scope="module")
def clf() -> HotlineClassifier:
    return build_classifier(PACKAGED_CONFIG_DIR, areas=FixedAreas())


def _t(text: str, hotline: str = "12345", **kw: Any) -> TicketText:
    return TicketText(hotline=Hotline(hotline), content=text, **kw)


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("乘客反映鲁A12345出租车司机拒载，要求处理", Transport.TAXI),
        ("市民反映18路公交车过站不停，等了四十分钟", Transport.BUS),
        ("车主反映ETC通行高速被重复扣费，要求退还", Transport.EXPRESSWAY),
        ("举报大货车严重超载，每天从村里经过", Transport.ROAD_FREIGHT),
        ("学员反映驾校收了学费不安排练车，要求退费", Transport.TRAINING_REPAIR),
        ("反映G104国道路面坑洼严重，夜间行车危险", Transport.HIGHWAY),
        ("乘客反映轮渡码头乱收船票费", Transport.WATERWAY),
        ("乘客反映网约车平台乱收取消订单费用", Transport.RIDE_HAILING),
        ("司机投诉交通执法人员乱罚款，态度粗暴", Transport.ENFORCEMENT),
        ("乘客反映地铁站安检排队时间太长", Transport.METRO),
        ("乘客反映长途客车超员，过道站满了人", Transport.ROAD_PASSENGER),
    ],
)
def test_short_transport_complaints(clf: HotlineClassifier, text: str, sub: Transport) -> None:
    c = clf.classify(_t(text))
    assert c.domain is Domain.TRANSPORT, c.explanation
    assert c.transport is sub, c.explanation
    assert c.routing_confidence >= TRIAGE


@pytest.mark.parametrize(
    "text",
    [
        "市民来电反映XX小区门口下水道堵塞，污水外溢",
        "楼下烧烤店夜间噪音扰民",
        "小区物业乱收费，服务差",
        "公司拖欠工资三个月",
        "咨询灵活就业人员如何缴纳社保",
        "咨询异地就医医保报销流程",
        "反映学校违规收取补课费",
        "反映超市销售过期食品，食品安全没有保障",
        "举报邻居在楼顶私搭违建",
    ],
)
def test_general_hotline_matters_are_not_transport(clf: HotlineClassifier, text: str) -> None:
    for hotline in ("12345", "12328"):
        c = clf.classify(_t(text, hotline))
        assert c.domain is not Domain.TRANSPORT, c.explanation
        assert c.transport is None


@pytest.mark.parametrize(
    ("hotline", "text", "sub"),
    [
        # 车长 (a bus driver's title) must not fire inside 半挂车长期
        ("12328", "举报一辆半挂车长期在省道上超载行驶", Transport.ROAD_FREIGHT),
        # a bare route number is a bus line
        ("12345", "市民反映坐102路去火车站，司机一路打电话", Transport.BUS),
        ("12328", "交通执法人员在收费站态度粗暴，乱罚款", Transport.ENFORCEMENT),
        ("12328", "反映国道改扩建工程项目部拖延工期，施工方材料堆在路边", Transport.CONSTRUCTION),
        # round 6: an incident on the expressway is the expressway's, whatever vehicle it involves
        ("12328", "来电人称沈海高速服务区里一辆大巴起火，乘客已经下车", Transport.EXPRESSWAY),
        ("12328", "来电人咨询从烟台港运散货到大连怎么订舱，运价多少", Transport.WATERWAY),
    ],
)
def test_sub_domain_lexicon_regressions(
    clf: HotlineClassifier, hotline: str, text: str, sub: Transport
) -> None:
    c = clf.classify(_t(text, hotline))
    assert c.domain is Domain.TRANSPORT, c.explanation
    assert c.transport is sub, c.explanation


@pytest.mark.parametrize(
    ("hotline", "text", "domain"),
    [
        # a bare 执法大队 is not transport enforcement (training data: 卫生执法大队)
        ("12345", "县卫生执法大队检查公共场所卫生还要收费吗", Domain.HEALTH),
        # a new car with defects is a consumer dispute, not a repair shop matter
        ("12345", "在4S店购买的新车发动机有异响，要求退换", Domain.COMMERCE),
        # 户口 in a school-enrolment question is not a public-security matter
        ("12345", "外地户口的孩子怎么在本地上小学，需要什么材料", Domain.EDUCATION),
        # on the transport hotline the subject beats the vehicle:
        # a driver's wages are a labour matter, whoever employs the driver
        (
            "12328",
            "来电人是出租车司机，出租汽车公司拖欠其三个月工资，还停缴了社保，要求补发补缴",
            Domain.LABOUR,
        ),
        # licences, penalty points and accident reports belong to the traffic police (其他)
        ("12328", "来电人咨询驾驶证下个月到期，人在外地跑货运，能否在外地车管所换证", Domain.OTHER),
        # a fraud call naming ETC is a police matter
        ("12328", "来电人接到自称ETC中心的电话，要求提供短信验证码，怀疑是诈骗电话", Domain.OTHER),
        # a tanker dumping liquid is pollution, not freight
        ("12328", "举报几辆罐车在停车场往排水沟里倾倒不明液体，气味刺鼻", Domain.ENVIRONMENT),
        # round 6: penalty points used up and the driving test are traffic-police matters
        ("12328", "来电人驾照扣满12分，问在哪里参加学习考试", Domain.OTHER),
        # paint sprayed in the street by a repair shop is pollution
        ("12328", "举报路边汽修店天天在门口喷漆，油漆味很大", Domain.ENVIRONMENT),
        # a hired car's deposit is a transport-service matter; the insurer's payment after an
        # accident is not, whatever repair it pays for
        ("12345", "来电人在汽车租赁公司租车，还车时被扣了一千元押金", Domain.TRANSPORT),
        ("12328", "来电人车被追尾，交警认定对方全责，保险公司迟迟不理赔修车费", Domain.OTHER),
        # violence in a taxi is the police's; a speeding photo is the traffic police's
        ("12328", "来电人乘坐出租车时与司机争执，司机下车动手打了他，已报警", Domain.OTHER),
        ("12345", "市民咨询车辆在高速路口被抓拍超速，会扣几分", Domain.OTHER),
        # trucks of a logistics park at night keep residents awake: noise, not freight
        ("12328", "物流园货车半夜鸣笛装卸，附近居民没法休息", Domain.ENVIRONMENT),
    ],
)
def test_domain_lexicon_regressions(clf: HotlineClassifier, hotline: str, text: str, domain: Domain) -> None:
    c = clf.classify(_t(text, hotline))
    assert c.domain is domain, c.explanation


@pytest.mark.parametrize(
    "text",
    [
        "乘客在公交车上突然晕倒，口吐白沫，司机已打120",
        "渡船在江心失去动力，正往下游漂流，船上有二十多人",
        "小区门口井盖丢了，已经有电动车掉进去",
        "施工队把燃气管道挖断了，现场有很大的煤气味",
        "来电人称工友爬上了塔吊，说不给工资就跳下去",
        "公交车停在路边，车尾已经起明火",
    ],
)
def test_emergencies_in_plain_words_are_urgent(clf: HotlineClassifier, text: str) -> None:
    from schemas.v1.vocab import Urgency

    c = clf.classify(_t(text, reported_urgency=Urgency.NORMAL))
    assert c.urgency in (Urgency.URGENT, Urgency.CRITICAL), c.explanation


def test_thanks_after_an_emergency_is_praise_not_urgent(clf: HotlineClassifier) -> None:
    from schemas.v1.vocab import TicketType, Urgency

    c = clf.classify(_t("昨天在高速上爆胎，路政人员帮忙换胎，特此表扬", "12328"))
    assert c.type is TicketType.PRAISE, c.explanation
    assert c.urgency is Urgency.NORMAL, c.explanation


def test_explanation_names_the_words_and_rules(clf: HotlineClassifier) -> None:
    c = clf.classify(_t("乘客反映鲁A12345出租车司机拒载，要求处理", "12328"))
    assert c.type.value == "投诉"
    text = " | ".join(c.explanation)
    assert "domain 交通运输" in text and "出租车" in text
    assert "transport 出租汽车 (rule taxi" in text
    assert "type 投诉" in text and "拒载" in text
    assert c.model_version == clf.version and c.model_version.startswith("domain-v2-")
    assert set(c.confidence) == {"domain", "transport", "type", "urgency", "area"}
    assert c.area.code == "370102"


def test_self_harm_threat_is_urgent_whatever_the_agent_ticked(clf: HotlineClassifier) -> None:
    from schemas.v1.vocab import Urgency

    c = clf.classify(_t("来电人扬言跳楼，因工资被拖欠", reported_urgency=Urgency.NORMAL))
    assert c.urgency in (Urgency.CRITICAL, Urgency.URGENT)


def test_nothing_fits_goes_to_other_or_triage(clf: HotlineClassifier) -> None:
    c = clf.classify(_t("咨询身份证丢了去哪个派出所补办"))
    assert c.domain is Domain.OTHER or c.routing_confidence < TRIAGE


def test_batch_equals_single(clf: HotlineClassifier) -> None:
    tickets = [_t("出租车拒载"), _t("小区噪音扰民"), _t("ETC扣费")]
    assert clf.classify_many(tickets) == [clf.classify(t) for t in tickets]
    assert clf.classify_many([]) == []


_BOARD_TEXT = (
    "我家住在城区某小区，小区周边的市政道路两侧长期被车辆乱停乱放占用，晚上下班回家根本找不到停车位，"
    "小区内部的停车场也被外来车辆占满，物业不管，城管偶尔来贴罚单也没有用。希望住建和城管部门统筹规划，"
    "在周边空地增建公共停车场，并且规范道路两侧的停车泊位，解决居民停车难的问题。"
)


def test_long_confident_web_text_is_decided_by_the_model(clf: HotlineClassifier) -> None:
    assert len(_BOARD_TEXT) >= clf.config.defaults.model_gate_length
    c = clf.classify(_t(_BOARD_TEXT, channel=Channel.WEB))
    assert c.domain is Domain.URBAN, c.explanation
    assert "model decides" in c.explanation[0]


def test_phone_tickets_transport_hotline_and_short_tickets_are_always_fused(clf: HotlineClassifier) -> None:
    assert "model decides" not in clf.classify(_t(_BOARD_TEXT)).explanation[0]
    assert "model decides" not in clf.classify(_t(_BOARD_TEXT, "12328")).explanation[0]
    assert "model decides" not in clf.classify(_t("市民反映小区门口停车难，车辆乱停乱放")).explanation[0]


def _labelled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line.strip()]


def test_own_labelled_set(clf: HotlineClassifier) -> None:
    rows = _labelled()
    assert len(rows) >= 140
    results = clf.classify_many([_t(r["content"], r["hotline"]) for r in rows])
    ok: Counter[str] = Counter()
    n_transport = 0
    for r, c in zip(rows, results, strict=True):
        ok["domain"] += c.domain.value == r["domain"]
        ok["transport_vs_not"] += (c.domain is Domain.TRANSPORT) == (r["domain"] == "交通运输")
        ok["type"] += c.type.value == r["type"]
        ok["urgency"] += c.urgency.value == r["urgency"]
        if r["domain"] == "交通运输" and c.transport is not None:
            n_transport += 1
            ok["transport"] += c.transport.value == r["transport"]
    n = len(rows)
    assert ok["transport_vs_not"] / n >= 0.97
    assert ok["domain"] / n >= 0.93
    assert ok["transport"] / n_transport >= 0.90
    assert ok["type"] / n >= 0.85
    assert ok["urgency"] / n >= 0.90


def test_own_tuning_tickets() -> None:
    """``tuning_tickets.jsonl``: 48 longer (42–60 characters) tickets written for tuning issue 3,
    incl. city roads/parking (城乡建设, not transport; U034, a 12345 new-bus-line request, is
    城乡建设 since round 4). The test sets ``hotline_tickets_test*.jsonl`` are not used here."""
    rows = [json.loads(line) for line in TUNING.read_text("utf-8").splitlines() if line.strip()]
    results = build_classifier(PACKAGED_CONFIG_DIR).classify_many(
        [_t(r["content"], r["hotline"]) for r in rows]
    )
    n = len(rows)
    transport_ok = sum(
        (c.domain is Domain.TRANSPORT) == (r["domain"] == "交通运输")
        for r, c in zip(rows, results, strict=True)
    )
    domain_ok = sum(c.domain.value == r["domain"] for r, c in zip(rows, results, strict=True))
    assert transport_ok / n >= 0.97
    assert domain_ok / n >= 0.9


def test_confidence_is_higher_when_right(clf: HotlineClassifier) -> None:
    rows = _labelled()
    results = clf.classify_many([_t(r["content"], r["hotline"]) for r in rows])
    right = [
        c.routing_confidence for r, c in zip(rows, results, strict=True) if c.domain.value == r["domain"]
    ]
    wrong = [
        c.routing_confidence for r, c in zip(rows, results, strict=True) if c.domain.value != r["domain"]
    ]
    assert float(np.mean(right)) > float(np.mean(wrong or [0.0]))


# Where the message board's taxonomy and the hotline's disagree: the board files bus matters under
# 城乡建设, the hotline under 交通运输 (公交).
_BUS_FARE = "市民反映312路公交车票价上涨，老人卡不能用，要求恢复"


def test_web_text_on_12345_keeps_the_model_label_and_triages_a_disagreement(clf: HotlineClassifier) -> None:
    phone = clf.classify(_t(_BUS_FARE))
    web = clf.classify(_t(_BUS_FARE, channel=Channel.WEB))
    assert phone.domain is Domain.TRANSPORT  # agents' tickets: the hotline lexicon decides
    model_top = max(clf.model.classes, key=lambda k: _model_proba(clf, _BUS_FARE)[k])
    assert model_top != Domain.TRANSPORT.value
    assert web.domain.value == model_top  # web text: the model, trained on such texts, decides
    assert "web text, model leads" in web.explanation[0]
    assert "lexicon favours 交通运输" in web.explanation[0]
    assert web.routing_confidence < TRIAGE  # the two disagree: a human decides


def test_web_text_where_model_and_lexicon_agree_is_dispatched(clf: HotlineClassifier) -> None:
    text = "K1区出租车司机拒载、不打表，一口价二十元，多次投诉无人管，希望规范出租车市场。"
    web = clf.classify(_t(text, channel=Channel.WEB))
    assert web.domain is Domain.TRANSPORT
    assert web.routing_confidence >= TRIAGE


def test_model_led_channels_are_per_hotline(clf: HotlineClassifier) -> None:
    """12328 web messages are still fused (a transport hotline); 12345 phone tickets are fused."""
    assert clf.classify(_t(_BUS_FARE, "12328", channel=Channel.WEB)).domain is Domain.TRANSPORT
    assert clf.classify(_t(_BUS_FARE, channel=Channel.PHONE)).domain is Domain.TRANSPORT


def _model_proba(clf: HotlineClassifier, text: str) -> dict[str, float]:
    x = clf.model.features([model_text_normalised(normalise_text(text))])
    row = clf.model.log_proba(clf.model.decision(x))[0]
    return {c: float(np.exp(row[j])) for j, c in enumerate(clf.model.classes)}


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data next to the repository")
@pytest.mark.xfail(
    reason="OPEN: domain-v2-20261127-a0503d80 (issue-3 round 7, board scorer without lexicon rows,"
    " holdout as web) scores 0.9321 macro-F1 / 0.9364 acc (412/440) on the holdout (target 0.93/0.94),"
    " see docs/classifier.md"
)
def test_holdout_through_the_service_path(clf: HotlineClassifier) -> None:
    report = evaluate_holdout(clf, SHARED_DATA)
    assert report.n == 440
    assert report.macro_f1 >= 0.93, report.format()
    assert report.accuracy >= 0.94, report.format()


def test_bench_helper_measures_something(clf: HotlineClassifier) -> None:
    assert bench_classify(clf, 400) > 0


def test_model_file_is_plain_data(clf: HotlineClassifier) -> None:
    path = PACKAGED_CONFIG_DIR.parent / "models"
    npz = next(path.glob(f"{clf.version}.npz"))
    with np.load(npz, allow_pickle=False) as z:  # raises if anything needed unpickling
        assert {"terms", "idf", "coef", "intercept"} <= set(z.files)
    assert npz.stat().st_size < 25 * 1024 * 1024  # two scorers over ~630 k features, float16


def test_tampered_or_missing_model_is_refused(tmp_path: Path) -> None:
    model = next((PACKAGED_CONFIG_DIR.parent / "models").glob("domain-v*.npz"))
    bad = tmp_path / model.name
    bad.write_bytes(b"\x80\x04not a model")
    shutil.copy(model.with_suffix(".json"), bad.with_suffix(".json"))
    with pytest.raises(ModelFileError):
        TextModel.load(bad)
    with pytest.raises(ModelFileError):
        TextModel.load(tmp_path / "absent.npz")
    (tmp_path / "classifier.yaml").write_text("model: {file: nowhere.npz}\n", "utf-8")
    with pytest.raises(ModelFileError, match="not found"):
        build_classifier(tmp_path)


def test_word_segmentation_is_forward_maximum_matching() -> None:
    from router.classify.model import segment, word_prefixes

    words = ["出租", "出租车", "拒载", "司机"]
    vocab = {w: w for w in words}
    assert segment("出租车司机拒载了", vocab, word_prefixes(words)) == ["出租车", "司机", "拒载"]
    assert segment("", vocab, word_prefixes(words)) == []


def test_synthetic_tickets_are_deterministic_and_labelled() -> None:
    from router.classify.augment import synthetic_tickets

    kw = {"交通运输": ["出租车", "拒载"], "城乡建设": ["物业"]}
    a = synthetic_tickets(kw, {"交通运输": 5, "城乡建设": 3}, seed=1)
    assert a == synthetic_tickets(kw, {"交通运输": 5, "城乡建设": 3}, seed=1)
    assert Counter(d for _, d in a) == {"交通运输": 5, "城乡建设": 3}
    assert all(any(k in t for k in kw[d]) for t, d in a)
