"""The aiohttp application: health, readiness, metrics (and the supervisor API as it grows).

``create_app(settings, service)``: the service is started and stopped by a cleanup context, so that
aiohttp's graceful shutdown (SIGTERM/SIGINT) stops consuming, finishes in-flight work and closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from config.settings import Settings
from router.service import Service

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)


def error_response(status: int, code: str, message: str, details: object = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = await request.app[SERVICE].readiness()
    return web.json_response(checks, status=200 if checks["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)


def create_app(settings: Settings, service: Service) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = settings
    app[SERVICE] = service

    async def service_ctx(app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(service_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
