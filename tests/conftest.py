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


#: the queue/exchange prefix of the test run: by default the same names as `make run` and `bench`, purged
#: before every test. Quorum queues are heavyweight (a Raft group each; the topology has ~207), and the
#: RabbitMQ 3.10 of Debian 12 was seen to deadlock past ~420 of them, so a development broker holds one
#: set, shared by the demo, the benchmark and the tests. TEST_AMQP_PREFIX gives a separate set.
TEST_PREFIX = os.environ.get("TEST_AMQP_PREFIX", "")


@pytest.fixture
async def settings(
    broker_check: None, amqp_url: str, mongo_url: str, test_name: str
) -> AsyncIterator[Settings]:
    """Settings with the test prefix (queues purged first) and a database of this test's own (dropped)."""
    s = Settings(
        AMQP_URL=amqp_url,
        MONGO_URL=mongo_url,
        MONGO_DB=f"t_{uuid.uuid4().hex[:10]}",
        AMQP_PREFIX=TEST_PREFIX,
        BATCH_WAIT_MS=5,
        OUTBOX_GRACE_S=0.5,
        HTTP_PORT=0,
    )
    await purge_test_queues(amqp_url, TEST_PREFIX)
    yield s
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    await client.drop_database(s.mongo_db)
    await client.close()


async def purge_test_queues(amqp_url: str, prefix: str) -> None:
    from config.directory import load_directory
    from config.settings import PACKAGED_CONFIG_DIR
    from consumers.topology import Names, purge_queues, queue_names

    connection = await aio_pika.connect(amqp_url)
    try:
        codes = load_directory(PACKAGED_CONFIG_DIR).codes()
        await purge_queues(connection, queue_names(Names(prefix), codes))
    finally:
        await connection.close()
