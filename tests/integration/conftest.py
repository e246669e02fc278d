from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.settings import Settings
from router.domain import Domain, build_domain
from router.service import Service
from tests.integration.amqp_helpers import Peer


@pytest.fixture(scope="session")
def domain() -> Domain:
    """The real domain from the packaged config (built once: the model load is the slow part)."""
    from config.settings import PACKAGED_CONFIG_DIR

    return build_domain(PACKAGED_CONFIG_DIR)


@pytest.fixture
async def service(settings: Settings, domain: Domain) -> AsyncIterator[Service]:
    assert settings.mongo_url is not None
    svc = Service(settings, mongo_url=settings.mongo_url, domain=domain)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
async def peer(settings: Settings) -> AsyncIterator[Peer]:
    async with Peer(settings) as p:
        yield p
