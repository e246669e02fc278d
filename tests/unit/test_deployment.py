"""docker-compose.yml cannot be started here (no Docker engine); its structure is checked instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    return data


def test_compose_has_broker_database_and_service_with_healthchecks() -> None:
    services = compose()["services"]
    assert {"rabbitmq", "mongodb", "router"} <= set(services)
    for name in ("rabbitmq", "mongodb", "router"):
        hc = services[name]["healthcheck"]
        assert hc["test"] and hc["interval"] and hc["retries"] >= 3, name
    assert "management" in services["rabbitmq"]["image"]
    assert "--replSet" in services["mongodb"]["command"], "single-node replica set for transactions/streams"
    deps = services["router"]["depends_on"]
    assert deps["rabbitmq"]["condition"] == deps["mongodb"]["condition"] == "service_healthy"
    assert services["router"]["build"] == "."
    assert (REPO / "Dockerfile").exists()


def test_service_is_configured_only_through_known_environment_variables() -> None:
    env = compose()["services"]["router"]["environment"]
    known = {f.validation_alias for f in Settings.model_fields.values()}
    assert set(env) <= known, set(env) - known
    assert "replicaSet=rs0" in env["MONGO_URL"]
    assert env["AMQP_URL"].startswith("amqp://")
    scaled = compose()["services"]["router-consumers"]
    assert scaled["environment"] == env and scaled["command"][-1] == "consumers"


def test_dockerfile_runs_the_cli_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["hotline-router"]' in text
    assert "USER hotline" in text
    assert "HEALTHCHECK" in text
