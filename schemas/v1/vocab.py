"""Controlled vocabularies of the v1 contract (DESIGN §4–§6).

The values are the Chinese terms the hotline platforms use on the wire; the enum names are for code.
"""

from __future__ import annotations

from enum import StrEnum


class Hotline(StrEnum):
    H12328 = "12328"
    H12345 = "12345"

    @property
    def other(self) -> Hotline:
        return Hotline.H12345 if self is Hotline.H12328 else Hotline.H12328


class TicketType(StrEnum):
    CONSULT = "咨询"
    HELP = "求助"
    COMPLAINT = "投诉"
    REPORT = "举报"
    SUGGESTION = "建议"
    PRAISE = "表扬"


class Domain(StrEnum):
    URBAN = "城乡建设"
    ENVIRONMENT = "环境保护"
    TRANSPORT = "交通运输"
    EDUCATION = "教育文体"
    LABOUR = "劳动和社会保障"
    COMMERCE = "商贸旅游"
    HEALTH = "卫生计生"
    OTHER = "其他"


class Transport(StrEnum):
    TAXI = "出租汽车"
    RIDE_HAILING = "网约车"
    BUS = "公交"
    METRO = "城市轨道交通"
    ROAD_PASSENGER = "道路客运"
    ROAD_FREIGHT = "道路货运"
    TRAINING_REPAIR = "驾培维修"
    EXPRESSWAY = "高速公路"
    HIGHWAY = "公路路政"
    WATERWAY = "水路港航"
    CONSTRUCTION = "工程建设"
    ENFORCEMENT = "交通执法"
    OTHER = "其他交通"


class Urgency(StrEnum):
    NORMAL = "一般"
    URGENT = "紧急"
    CRITICAL = "特急"


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    WECHAT = "wechat"
    APP = "app"
    SMS = "sms"
    TRANSFER = "transfer"


class TicketState(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    REPLIED = "replied"
    CALLBACK_PENDING = "callback_pending"
    CLOSED = "closed"
    RETURNED = "returned"
    TRANSFERRED = "transferred"
    MERGED = "merged"
    REOPENED = "reopened"
    REJECTED = "rejected"


class ReturnReason(StrEnum):
    WRONG_FUNCTION = "职能不符"
    WRONG_AREA = "属地不符"
    INCOMPLETE = "信息不全"
    OTHER = "其他"


class CallbackOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REFUSED = "refused"
    INVALID_NUMBER = "invalid_number"


class Satisfaction(StrEnum):
    SATISFIED = "满意"
    FAIRLY = "基本满意"
    DISSATISFIED = "不满意"


class RouteAction(StrEnum):
    DISPATCH = "dispatch"
    TRANSFER = "transfer"
    TRIAGE = "triage"
