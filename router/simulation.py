"""Realistic synthetic 12328 / 12345 work orders for ``demo``, ``bench`` and tests.

Phone-call style texts as agents record them (市民来电反映…), over Shandong's cities, districts and plates.
Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CITIES: list[tuple[str, str, list[str]]] = [
    ("济南", "鲁A", ["历下区", "市中区", "槐荫区", "天桥区", "历城区", "长清区", "章丘区"]),
    ("青岛", "鲁B", ["市南区", "市北区", "黄岛区", "崂山区", "李沧区", "城阳区", "即墨区"]),
    ("淄博", "鲁C", ["张店区", "淄川区", "博山区", "临淄区", "周村区"]),
    ("枣庄", "鲁D", ["薛城区", "峄城区", "台儿庄区", "山亭区", "滕州市"]),
    ("东营", "鲁E", ["东营区", "河口区", "垦利区", "广饶县"]),
    ("烟台", "鲁F", ["芝罘区", "福山区", "牟平区", "莱山区", "龙口市"]),
    ("潍坊", "鲁G", ["潍城区", "寒亭区", "坊子区", "奎文区", "青州市", "寿光市"]),
    ("济宁", "鲁H", ["任城区", "兖州区", "曲阜市", "邹城市"]),
    ("泰安", "鲁J", ["泰山区", "岱岳区", "新泰市", "肥城市"]),
    ("威海", "鲁K", ["环翠区", "文登区", "荣成市", "乳山市"]),
    ("日照", "鲁L", ["东港区", "岚山区", "五莲县", "莒县"]),
    ("临沂", "鲁Q", ["兰山区", "罗庄区", "河东区", "沂南县", "郯城县"]),
    ("德州", "鲁N", ["德城区", "陵城区", "禹城市", "乐陵市"]),
    ("聊城", "鲁P", ["东昌府区", "茌平区", "临清市", "阳谷县"]),
    ("滨州", "鲁M", ["滨城区", "沾化区", "邹平市", "惠民县"]),
    ("菏泽", "鲁R", ["牡丹区", "定陶区", "曹县", "单县", "郓城县"]),
]
ROADS = ["经十路", "人民路", "解放路", "建设路", "和平路", "文化路", "胜利街", "新华路", "长江路", "黄河路"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# (template, intended domain, transport sub-domain or None, type)
TRANSPORT_12328 = [
    ("乘客反映{plate}出租车司机在{place}拒载，称要交班不去{road}，要求处理", "出租汽车", "投诉"),
    (
        "市民来电反映{time}乘坐{plate}出租车从{place}到火车站，司机绕路多收费约{n}元，要求退费",
        "出租汽车",
        "投诉",
    ),
    ("来电人反映在{place}使用网约车平台打车，司机临时加价并辱骂乘客，平台不处理，要求查处", "网约车", "投诉"),
    ("市民反映{road}的{n}路公交车经常不按站停靠，司机态度差，早高峰等车超过半小时", "公交", "投诉"),
    ("来电咨询{city}地铁{n}号线末班车时间以及老年卡能否免费乘坐", "城市轨道交通", "咨询"),
    ("乘客反映{city}汽车总站到{district}的客运班车超员载客，车票价格上涨，要求核实", "道路客运", "投诉"),
    ("货车司机反映在{place}治超站被重复罚款，对超限认定有异议，要求说明依据", "道路货运", "投诉"),
    ("学员反映{city}某驾校收费后迟迟不安排练车，要求退还培训费{n}元", "驾培维修", "投诉"),
    ("车主反映在{district}一家汽修厂维修车辆时被更换旧配件，收费不透明，要求处理", "驾培维修", "投诉"),
    ("来电人反映京沪高速{city}段ETC扣费异常，同一行程被重复扣费{n}元，要求退费", "高速公路", "投诉"),
    ("货车司机咨询绿色通道鲜活农产品运输车辆免收通行费的政策和查验流程", "高速公路", "咨询"),
    ("市民反映{city}附近的高速服务区卫生间脏乱、加油站排长队，建议增加设施", "高速公路", "建议"),
    ("来电反映{district}境内G{n}国道路面出现大坑，多辆车爆胎，存在安全隐患，请尽快修复", "公路路政", "求助"),
    ("市民举报{district}有人在省道两侧违法设置广告牌并占用公路堆放建材", "公路路政", "举报"),
    ("旅客反映{city}港客运码头轮渡停航未提前通知，滞留旅客无人安排，要求说明", "水路港航", "投诉"),
    ("市民反映{road}道路施工围挡占用人行道，工地夜间施工噪音大，施工单位未公示工期", "工程建设", "投诉"),
    ("来电人反映{place}交通执法人员执法时态度粗暴，未出示证件即扣车，要求核查", "交通执法", "投诉"),
    ("群众举报{place}有黑车长期非法营运拉客，车牌{plate}，请交通执法部门查处", "交通执法", "举报"),
    ("乘客表扬{plate}出租车司机拾金不昧，主动归还乘客遗落的手机和钱包", "出租汽车", "表扬"),
    ("市民来电称{place}发生交通事故，一辆客车侧翻，有人员被困，请求紧急救援", "道路客运", "求助"),
]
GENERAL_12345 = [
    ("市民反映{district}{road}某小区楼下餐馆油烟扰民，夜间排风机噪音大，多次协商无果", "环境保护", "投诉"),
    ("来电人反映{district}某化工厂夜间偷排废气，气味刺鼻，周边居民头晕，要求查处", "环境保护", "举报"),
    ("市民反映{district}{road}小区物业不作为，电梯多次故障无人维修，存在安全隐患", "城乡建设", "投诉"),
    ("来电反映{district}老旧小区改造后下水道堵塞，污水外溢，要求尽快疏通", "城乡建设", "求助"),
    ("市民咨询{city}二套房公积金贷款首付比例和贷款额度如何计算", "城乡建设", "咨询"),
    (
        "农民工反映在{district}某建筑工地务工，老板拖欠工资{n}元至今未付，要求帮助讨薪",
        "劳动和社会保障",
        "求助",
    ),
    ("市民咨询灵活就业人员如何在{city}缴纳职工养老保险和医疗保险", "劳动和社会保障", "咨询"),
    ("来电人反映{district}某培训机构收取学费后跑路，家长要求退费", "教育文体", "投诉"),
    ("家长反映{district}某小学课后服务乱收费，并强制学生购买教辅资料", "教育文体", "投诉"),
    ("市民反映在{district}某超市购买的食品已过期，商家拒绝退换，要求处理", "商贸旅游", "投诉"),
    ("游客反映在{city}某景区被导游强制购物，要求退还团费", "商贸旅游", "投诉"),
    ("市民反映{district}某医院挂号难，专家号被号贩子倒卖，要求整治", "卫生计生", "投诉"),
    ("来电咨询{city}新生儿出生医学证明办理需要哪些材料", "卫生计生", "咨询"),
    ("市民建议在{road}与{road2}路口增设公共厕所和休息座椅", "城乡建设", "建议"),
    ("来电人称与家人争吵后情绪激动，扬言要跳楼轻生，目前在{place}楼顶", "其他", "求助"),
]
CROSS_12345_TRANSPORT = [
    ("市民拨打12345反映{plate}出租车拒载，司机不打表，要求处理", "出租汽车", "投诉"),
    ("来电反映{road}公交站台损坏，{n}路公交车晚点严重", "公交", "投诉"),
    ("市民反映高速公路ETC通行费多扣，联系发行方无人处理", "高速公路", "投诉"),
]
CROSS_12328_GENERAL = [
    ("来电人拨打12328反映{district}小区供暖温度不达标，家里只有十几度", "城乡建设", "投诉"),
    ("市民反映单位拖欠社保费，咨询如何投诉", "劳动和社会保障", "咨询"),
]


@dataclass(frozen=True, slots=True)
class Simulated:
    routing_key: str
    body: dict[str, Any]
    expected_domain: str
    expected_transport: str | None
    expected_type: str


class TicketSimulator:
    """Generates intake bodies; ``external_id`` values are unique per simulator run (``run_id``)."""

    def __init__(self, seed: int = 12328, run_id: str = "sim") -> None:
        self._rng = random.Random(seed)
        self._run = run_id
        self._n = 0

    def _fill(self, template: str) -> tuple[str, dict[str, Any]]:
        rng = self._rng
        city, plate_prefix, districts = rng.choice(CITIES)
        district = rng.choice(districts)
        road, road2 = rng.sample(ROADS, 2)
        plate = f"{plate_prefix}{rng.choice(LETTERS)}{rng.randint(1000, 99999)}"
        place = f"{city}市{district}{road}"
        text = template.format(
            plate=plate,
            place=place,
            road=road,
            road2=road2,
            city=city,
            district=district,
            n=rng.randint(2, 300),
            time=f"{rng.randint(6, 23)}点左右",
        )
        facts = {
            "city": city,
            "district": district,
            "address": f"山东省{city}市{district}{road}{rng.randint(1, 300)}号",
            "plate": plate,
        }
        return text, facts

    def next(self, received_at: datetime, hotline: str | None = None) -> Simulated:
        rng = self._rng
        self._n += 1
        hotline = hotline or rng.choice(["12328", "12345"])
        if hotline == "12328":
            pool = TRANSPORT_12328 if rng.random() > 0.1 else CROSS_12328_GENERAL
        else:
            pool = GENERAL_12345 if rng.random() > 0.25 else CROSS_12345_TRANSPORT
        template, label, ttype = rng.choice(pool)
        text, facts = self._fill(template)
        domain = "交通运输" if pool in (TRANSPORT_12328, CROSS_12345_TRANSPORT) else label
        transport = label if domain == "交通运输" else None
        phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        body: dict[str, Any] = {
            "schema": "hotline.intake/v1",
            "hotline": hotline,
            "external_id": f"{hotline}-{self._run}-{self._n:07d}",
            "received_at": received_at.isoformat(),
            "content": text,
            "channel": rng.choice(["phone", "phone", "phone", "wechat", "app"]),
            "caller": {
                "name": f"{rng.choice(SURNAMES)}先生"
                if rng.random() < 0.5
                else f"{rng.choice(SURNAMES)}女士",
                "phone": phone,
                "confidential": rng.random() < 0.05,
            },
            "address": facts["address"] if rng.random() < 0.7 else None,
        }
        if (
            hotline == "12328"
            and transport in ("出租汽车", "网约车", "道路客运", "道路货运")
            and rng.random() < 0.6
        ):
            body["transport"] = {"plate_no": facts["plate"]}
        return Simulated(
            f"ticket.{hotline}", {k: v for k, v in body.items() if v is not None}, domain, transport, ttype
        )

    def stream(self, n: int, start: datetime, spacing: timedelta = timedelta(seconds=1)) -> list[Simulated]:
        return [self.next(start + i * spacing) for i in range(n)]
