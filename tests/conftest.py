"""Shared fixtures. Integration tests use the real RabbitMQ (AMQP_URL, default localhost) and a real
MongoDB-protocol server (MONGO_URL, or an embedded SecantusDB started once per session). When either
is unreachable the tests FAIL with a message; they never skip themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest
from pymongo import AsyncMongoClient

from config.settings import Settings
from router.embedded import EmbeddedMongo

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("MONGO_URL")
    if url:
        yield url
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo") / "data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
async def broker_check(amqp_url: str) -> None:
    try:
        connection = await aio_pika.connect(amqp_url, timeout=10)
    except Exception as exc:  # pragma: no cover - only when the environment is broken
        pytest.fail(f"RabbitMQ at {amqp_url} is not reachable ({exc!r}); run `make services` or set AMQP_URL")
    await connection.close()


@pytest.fixture
def test_name(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def settings(
    broker_check: None, amqp_url: str, mongo_url: str, test_name: str
) -> AsyncIterator[Settings]:
    """Settings with a queue/exchange prefix and a database of this test's own; both removed afterwards."""
    suffix = uuid.uuid4().hex[:10]
    s = Settings(
        AMQP_URL=amqp_url,
        MONGO_URL=mongo_url,
        MONGO_DB=f"t_{suffix}",
        AMQP_PREFIX=f"t{suffix}.",
        BATCH_WAIT_MS=5,
        OUTBOX_GRACE_S=0.5,
        HTTP_PORT=0,
    )
    yield s
    await _drop_prefixed(amqp_url, s.amqp_prefix)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    await client.drop_database(s.mongo_db)
    await client.close()


async def _drop_prefixed(amqp_url: str, prefix: str) -> None:
    """Delete the queues and exchanges a test declared (names are known from the topology)."""
    from consumers.topology import EVENT_QUEUES, Names
    from router.messages import Exchange
    from schemas.v1.vocab import Hotline

    names = Names(prefix)
    connection = await aio_pika.connect(amqp_url)
    try:
        queue_names = [names.intake_queue(h) for h in Hotline] + [names.transfer_queue(h) for h in Hotline]
        queue_names += [names.intake_unrouted, names.feedback_queue, names.dead_queue]
        queue_names += [names.queue(q) for q in EVENT_QUEUES]
        from config.directory import load_directory
        from config.settings import PACKAGED_CONFIG_DIR

        queue_names += [names.department_queue(c) for c in load_directory(PACKAGED_CONFIG_DIR).codes()]
        for q in queue_names:
            channel = await connection.channel()
            try:
                await channel.queue_delete(q)
            except Exception:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
        for ex in [*(names.exchange(e) for e in Exchange), names.exchange(Exchange.INTAKE) + ".unrouted"]:
            channel = await connection.channel()
            try:
                await channel.exchange_delete(ex)
            except Exception:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
    finally:
        await connection.close()
