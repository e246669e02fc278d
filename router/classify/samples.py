"""Synthetic 50–300-character hotline tickets for ``bench_classify`` (deterministic, no I/O)."""

from __future__ import annotations

import random

from router.classification import TicketText
from schemas.v1.vocab import Hotline

_OPENINGS = ["市民来电反映", "乘客反映", "来电人称", "群众反映", "车主来电反映", "网民留言"]
_MATTERS = [
    "鲁A{n}出租车司机拒载，不按计价器收费，态度恶劣，要求处理",
    "{n}路公交车在站台过站不停，乘客等了四十分钟，希望加密班次",
    "XX小区门口下水道堵塞，污水外溢，臭味很大，影响居民出行",
    "小区楼下烧烤店夜间噪音扰民，多次沟通无果，请相关部门处理",
    "公司拖欠工资三个月，共计{n}元，劳动监察迟迟不处理",
    "在G{n}国道K{n}处路面坑洼严重，夜间行车存在安全隐患",
    "通过ETC通行高速收费站被重复扣费{n}元，要求退还",
    "驾校收取学费后不安排练车，要求退还学费",
    "网约车平台司机中途甩客并多收车费，平台客服不处理",
    "码头渡船超员，未给乘客配发救生衣，存在安全隐患",
    "孩子所在学校违规收取补课费，每人{n}元，请教育局核查",
    "社区医院医生态度恶劣，看病排队时间过长",
]
_TAILS = [
    "。来电人情绪激动，希望尽快解决。",
    "。已多次反映未果，请相关部门尽快核实处理并回复。",
    "，具体地点在历下区经十路与山大路交叉口附近，时间为今天上午九点左右。",
    "。",
]


def synthetic_tickets(n: int, seed: int = 7) -> list[TicketText]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        body = rnd.choice(_OPENINGS) + rnd.choice(_MATTERS).format(n=rnd.randint(10, 99999))
        while len(body) < rnd.randint(50, 300):
            body += rnd.choice(_TAILS)
        out.append(TicketText(hotline=rnd.choice([Hotline.H12328, Hotline.H12345]), content=body[:300]))
    return out
