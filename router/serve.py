"""Running the service: the HTTP app and the service behind it until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from aiohttp import web

from config.settings import Settings
from router.app import create_app
from router.embedded import mongo_url_or_embedded
from router.service import Role, Service

log = structlog.get_logger("serve")


@asynccontextmanager
async def running(
    settings: Settings,
    role: Role = Role.ALL,
    *,
    before_start: Callable[[str], Awaitable[None]] | None = None,
) -> AsyncIterator[tuple[Service, str]]:
    """The service and its HTTP endpoint, up for the duration of the block; yields (service, base URL).
    ``before_start(mongo_url)`` runs once the database is reachable, before the service starts."""
    async with mongo_url_or_embedded(settings.mongo_url, settings.data_dir) as mongo_url:
        if before_start is not None:
            await before_start(mongo_url)
        service = Service(settings, mongo_url=mongo_url, role=role)
        app = create_app(settings, service)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()  # starts the service (cleanup context)
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.http_port
        base = f"http://{settings.http_host}:{port}"
        log.info("http_listening", url=base, role=role.value)
        try:
            yield service, base
        finally:
            await runner.cleanup()  # stops consuming, finishes in-flight work, closes


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM/SIGINT; installed before start-up so that an early stop is not lost."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings, role: Role) -> None:
    stop = stop_on_signals()
    if (
        settings.jwt_secret.get_secret_value()
        == Settings.model_fields["jwt_secret"].default.get_secret_value()
    ):
        log.warning("jwt_secret_is_the_development_default", hint="set JWT_SECRET (>= 32 bytes)")
    async with running(settings, role):
        await stop.wait()
        log.info("shutdown_requested")
