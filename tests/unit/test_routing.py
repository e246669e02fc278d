"""Routing decisions (DESIGN §5): dispatch, transfer, triage, returns and arbitration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.directory import load_directory
from config.settings import PACKAGED_CONFIG_DIR
from router.classification import AreaMatch, Classification
from router.routing import Router, RoutingConfigError, RoutingPolicy, load_policy
from schemas.v1.vocab import Domain, Hotline, RouteAction, TicketType, Transport, Urgency

H28, H45 = Hotline.H12328, Hotline.H12345
JINAN = AreaMatch("3701", "3701", "address:济南市")
LIXIA = AreaMatch("370102", "3701", "address:历下区")
QINGDAO = AreaMatch("3702", "3702", "plate:鲁B")
NOWHERE = AreaMatch(None, None, None)


def cls(
    domain: Domain,
    transport: Transport | None = None,
    area: AreaMatch = JINAN,
    confidence: float = 0.9,
    type_: TicketType = TicketType.COMPLAINT,
) -> Classification:
    return Classification(
        type=type_,
        domain=domain,
        transport=transport,
        urgency=Urgency.NORMAL,
        area=area,
        confidence={"type": 0.9, "domain": confidence, "transport": confidence, "urgency": 0.9},
    )


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_config(PACKAGED_CONFIG_DIR)


def test_shipped_policy_defaults() -> None:
    p = load_policy(PACKAGED_CONFIG_DIR)
    assert (p.triage_threshold, p.max_returns, p.transport_default) == (0.55, 2, Transport.OTHER)


# -- transport side -------------------------------------------------------------------------


def test_12345_taxi_in_jinan_goes_to_jinan_taxi(router: Router) -> None:
    d = router.route(H45, cls(Domain.TRANSPORT, Transport.TAXI))
    assert (d.action, d.department, d.to, d.rule) == (
        RouteAction.DISPATCH,
        "jinan-taxi",
        None,
        "transport-subdomain",
    )
    assert "jinan-taxi" in d.reason


@pytest.mark.parametrize(
    ("transport", "department"),
    [
        (Transport.TAXI, "jinan-taxi"),
        (Transport.RIDE_HAILING, "jinan-taxi"),
        (Transport.BUS, "jinan-transit"),
        (Transport.METRO, "jinan-transit"),
        (Transport.ROAD_PASSENGER, "jinan-road-transport"),
        (Transport.ROAD_FREIGHT, "jinan-road-transport"),
        (Transport.TRAINING_REPAIR, "jinan-road-transport"),
        (Transport.HIGHWAY, "jinan-roads"),
        (Transport.CONSTRUCTION, "jinan-roads"),
        (Transport.ENFORCEMENT, "jinan-enforcement"),
        (Transport.OTHER, "jinan-enforcement"),
        (Transport.EXPRESSWAY, "sd-expressway"),
        (Transport.WATERWAY, "sd-waterway"),
    ],
)
def test_12328_subdomain_in_a_district_goes_to_the_city_unit(
    router: Router, transport: Transport, department: str
) -> None:
    d = router.route(H28, cls(Domain.TRANSPORT, transport, area=LIXIA))
    assert (d.action, d.department, d.rule) == (RouteAction.DISPATCH, department, "transport-subdomain")


def test_expressway_with_unknown_area_goes_to_the_province_unit(router: Router) -> None:
    assert router.route(H28, cls(Domain.TRANSPORT, Transport.EXPRESSWAY, area=NOWHERE)).department == (
        "sd-expressway"
    )


def test_transport_with_unknown_city_goes_to_the_provincial_12328_centre(router: Router) -> None:
    for hotline in (H28, H45):
        d = router.route(hotline, cls(Domain.TRANSPORT, Transport.TAXI, area=NOWHERE))
        assert (d.action, d.department, d.rule) == (
            RouteAction.DISPATCH,
            "sd-12328",
            "fallback-province-centre",
        )


def test_transport_without_subdomain_uses_the_default(router: Router) -> None:
    c = Classification(
        type=TicketType.COMPLAINT, domain=Domain.TRANSPORT, transport=None, urgency=Urgency.NORMAL,
        area=JINAN, confidence={"domain": 0.9},
    )  # fmt: skip
    assert router.route(H28, c).department == "jinan-enforcement"


def test_override_sends_qingdao_metro_to_the_metro_company(router: Router) -> None:
    d = router.route(H28, cls(Domain.TRANSPORT, Transport.METRO, area=QINGDAO))
    assert (d.department, d.rule) == ("qingdao-metro", "override:qingdao-metro")
    # the override does not apply elsewhere or to buses
    assert (
        router.route(H28, cls(Domain.TRANSPORT, Transport.BUS, area=QINGDAO)).department == "qingdao-transit"
    )
    assert router.route(H28, cls(Domain.TRANSPORT, Transport.METRO)).department == "jinan-transit"


def test_excluded_override_falls_back_to_the_directory(router: Router) -> None:
    c = cls(Domain.TRANSPORT, Transport.METRO, area=QINGDAO)
    d = router.route(H28, c, exclude=frozenset({"qingdao-metro"}), bounces=1)
    assert (d.department, d.rule) == ("qingdao-transit", "transport-subdomain")


# -- crossing between the hotlines ----------------------------------------------------------


def test_12328_non_transport_is_transferred_to_12345(router: Router) -> None:
    d = router.route(H28, cls(Domain.URBAN))
    assert (d.action, d.department, d.to, d.rule) == (RouteAction.TRANSFER, None, H45, "12328-non-transport")


def test_12328_non_transport_below_transfer_threshold_is_triaged() -> None:
    policy = RoutingPolicy(triage_threshold=0.5, transfer_threshold=0.8)
    router = Router(load_directory(PACKAGED_CONFIG_DIR), policy)
    d = router.route(H28, cls(Domain.URBAN, confidence=0.7))
    assert (d.action, d.rule) == (RouteAction.TRIAGE, "low-confidence")
    assert router.route(H28, cls(Domain.URBAN, confidence=0.85)).action is RouteAction.TRANSFER


@pytest.mark.parametrize(
    ("domain", "department", "rule"),
    [
        (Domain.URBAN, "jinan-housing", "domain-area"),
        (Domain.ENVIRONMENT, "jinan-environment", "domain-area"),
        (Domain.EDUCATION, "jinan-education", "domain-area"),
        (Domain.LABOUR, "jinan-hrss", "domain-area"),
        (Domain.COMMERCE, "jinan-commerce", "domain-area"),
        (Domain.HEALTH, "jinan-health", "domain-area"),
        (Domain.OTHER, "jinan-12345", "fallback-area-centre"),
    ],
)
def test_12345_domain_by_area(router: Router, domain: Domain, department: str, rule: str) -> None:
    d = router.route(H45, cls(domain, area=LIXIA))
    assert (d.action, d.department, d.rule) == (RouteAction.DISPATCH, department, rule)


def test_12345_unknown_area_goes_to_the_provincial_centre(router: Router) -> None:
    d = router.route(H45, cls(Domain.URBAN, area=NOWHERE))
    assert (d.department, d.rule) == ("sd-12345", "fallback-province-centre")


# -- confidence -----------------------------------------------------------------------------


def test_low_confidence_is_triaged(router: Router) -> None:
    d = router.route(H45, cls(Domain.TRANSPORT, Transport.TAXI, confidence=0.4))
    assert (d.action, d.department, d.to, d.rule) == (RouteAction.TRIAGE, None, None, "low-confidence")


def test_low_subdomain_confidence_is_triaged(router: Router) -> None:
    c = Classification(
        type=TicketType.COMPLAINT, domain=Domain.TRANSPORT, transport=Transport.TAXI, urgency=Urgency.NORMAL,
        area=JINAN, confidence={"domain": 0.95, "transport": 0.3},
    )  # fmt: skip
    assert router.route(H28, c).rule == "low-confidence"


def test_threshold_is_configurable() -> None:
    router = Router(load_directory(PACKAGED_CONFIG_DIR), RoutingPolicy(triage_threshold=0.3))
    assert router.route(H45, cls(Domain.URBAN, confidence=0.4)).department == "jinan-housing"


# -- returns (退单) and arbitration ----------------------------------------------------------


def test_returned_ticket_goes_to_the_next_candidate(router: Router) -> None:
    c = cls(Domain.TRANSPORT, Transport.TAXI)
    first = router.route(H45, c, exclude=frozenset({"jinan-taxi"}), bounces=1)
    assert first.action is RouteAction.DISPATCH
    assert first.department not in {"jinan-taxi", None}
    assert (first.department, first.rule) == ("jinan-12345", "fallback-area-centre")
    assert "jinan-taxi" in first.reason


def test_returns_walk_down_to_the_province_then_triage() -> None:
    router = Router(load_directory(PACKAGED_CONFIG_DIR), RoutingPolicy(max_returns=10))
    c = cls(Domain.URBAN)
    seen: list[str | None] = []
    exclude: frozenset[str] = frozenset()
    for bounces in range(5):
        d = router.route(H45, c, exclude=exclude, bounces=bounces)
        if d.action is not RouteAction.DISPATCH:
            assert (d.action, d.rule) == (RouteAction.TRIAGE, "no-candidate")
            break
        assert d.department not in exclude
        seen.append(d.department)
        exclude |= {d.department or ""}
    assert seen == ["jinan-housing", "jinan-12345", "sd-12345"]


def test_bounces_at_the_limit_go_to_arbitration(router: Router) -> None:
    c = cls(Domain.TRANSPORT, Transport.TAXI)
    d = router.route(H45, c, exclude=frozenset({"jinan-taxi", "jinan-12345"}), bounces=2)
    assert (d.action, d.department, d.rule) == (RouteAction.TRIAGE, None, "arbitration")
    # even before confidence or transfer is considered
    assert router.route(H28, cls(Domain.URBAN, confidence=0.1), bounces=3).rule == "arbitration"


def test_max_returns_is_configurable() -> None:
    router = Router(load_directory(PACKAGED_CONFIG_DIR), RoutingPolicy(max_returns=3))
    d = router.route(H45, cls(Domain.URBAN), exclude=frozenset({"jinan-housing"}), bounces=2)
    assert d.action is RouteAction.DISPATCH


def test_candidates_are_the_triage_suggestions(router: Router) -> None:
    codes = [c.department.code for c in router.candidates(cls(Domain.TRANSPORT, Transport.BUS, area=LIXIA))]
    assert codes == ["jinan-transit", "jinan-12345", "sd-12328"]


# -- configuration errors -------------------------------------------------------------------


def test_override_to_unknown_department_is_rejected() -> None:
    policy = RoutingPolicy.model_validate(
        {"overrides": [{"id": "x", "domain": "交通运输", "department": "atlantis-taxi"}]}
    )
    with pytest.raises(RoutingConfigError, match="x → atlantis-taxi"):
        Router(load_directory(PACKAGED_CONFIG_DIR), policy)


def test_invalid_routing_yaml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(
        yaml.safe_dump({"version": 1, "triage_threshold": 1.5, "overrides": [{"id": "a", "domain": "天气"}]},
                       allow_unicode=True),
        encoding="utf-8",
    )  # fmt: skip
    with pytest.raises(RoutingConfigError) as info:
        load_policy(tmp_path)
    text = str(info.value)
    assert "routing.yaml: invalid routing rules" in text
    assert "triage_threshold: Input should be less than or equal to 1" in text
    assert "overrides.0.domain" in text
    assert "overrides.0.department: Field required" in text
