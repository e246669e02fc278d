"""Plain-value builders for unit tests of the pure domain (no classifier, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.settings import PACKAGED_CONFIG_DIR
from router.classification import AreaMatch, Classification
from router.domain import PolicyDeadlines
from router.intake import Parsed, plan_new_ticket
from router.plans import TicketPlan
from router.routing import RouteDecision, Router
from router.tickets import ticket_id_for
from schemas.v1.intake import INTAKE_ADAPTER
from schemas.v1.vocab import Domain, Hotline, RouteAction, TicketType, Transport, Urgency

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday


def intake(**over: Any) -> Parsed:
    body: dict[str, Any] = {
        "hotline": "12328",
        "external_id": "E-1",
        "received_at": T0.isoformat(),
        "content": "乘客反映鲁A12345出租车司机拒载，要求处理",
        "caller": {"name": "张三", "phone": "13812345678"},
        "address": "济南市历下区泉城路",
    }
    body.update(over)
    t = INTAKE_ADAPTER.validate_python(body)
    return Parsed(t, ticket_id_for(t.hotline, t.external_id))


def classification(**over: Any) -> Classification:
    values: dict[str, Any] = {
        "type": TicketType.COMPLAINT,
        "domain": Domain.TRANSPORT,
        "transport": Transport.TAXI,
        "urgency": Urgency.NORMAL,
        "area": AreaMatch("370102", "3701", "address:历下区"),
        "confidence": {"type": 0.9, "domain": 0.95, "transport": 0.9, "urgency": 0.9, "area": 0.9},
        "explanation": ["test"],
        "model_version": "test",
    }
    values.update(over)
    values["type"] = TicketType(values["type"])
    values["domain"] = Domain(values["domain"])
    values["transport"] = Transport(values["transport"]) if values["transport"] else None
    values["urgency"] = Urgency(values["urgency"])
    return Classification(**values)


def deadlines() -> PolicyDeadlines:
    from config.sla import load_sla_policy
    from router.calendar import WorkCalendar

    return PolicyDeadlines(
        load_sla_policy(PACKAGED_CONFIG_DIR), WorkCalendar.from_config(PACKAGED_CONFIG_DIR)
    )


def router() -> Router:
    return Router.from_config(PACKAGED_CONFIG_DIR)


def dispatched(department: str = "jinan-taxi", *, now: datetime = T0, **intake_over: Any) -> TicketPlan:
    p = intake(**intake_over)
    d = deadlines().for_dispatch(
        at=now, type=TicketType.COMPLAINT, urgency=Urgency.NORMAL, hotline=Hotline.H12328
    )
    route = RouteDecision(RouteAction.DISPATCH, department, None, "transport-subdomain", "test")
    plan = plan_new_ticket(p, classification(), route, d, now=now.astimezone(UTC), tz=TZ)
    plan.doc["version"] = 1
    return plan


def later(hours: float) -> datetime:
    return (T0 + timedelta(hours=hours)).astimezone(UTC)
