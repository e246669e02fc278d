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
from router.extensions import ExtensionDecisionError
from router.service import Service
from router.supervision import Supervision
from router.tokens import Principal, TokenError, verify

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


def principal_of(request: web.Request, *, role: str) -> Principal:
    """The caller's verified bearer token, which must carry ``role`` (401 without a valid token, 403 with
    another role)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise web.HTTPUnauthorized(text="a bearer token is required (hotline-router token --role ...)")
    try:
        principal = verify(
            request.app[SETTINGS].jwt_secret.get_secret_value(), header.removeprefix("Bearer ")
        )
    except TokenError as exc:
        raise web.HTTPUnauthorized(text=f"invalid token: {exc}") from exc
    if principal.role != role:
        raise web.HTTPForbidden(text=f"this needs the {role} role, the token has {principal.role}")
    return principal


async def decide_extension(request: web.Request) -> web.Response:
    principal = principal_of(request, role="supervisor")
    ticket_id = request.match_info["ticket_id"]
    try:
        n = int(request.match_info["n"])
    except ValueError:
        return error_response(
            400, "bad_parameter", "the extension number must be an integer", {"n": request.match_info["n"]}
        )
    comment = None
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "bad_json", 'the body must be JSON, e.g. {"comment": "..."}')
        comment = body.get("comment") if isinstance(body, dict) else None
    service = request.app[SERVICE]
    assert service.components is not None
    supervision = Supervision(
        storage=service.components.storage, deadlines=service.domain.deadlines, clock=service.clock
    )
    try:
        doc = await supervision.decide_extension(
            ticket_id,
            n,
            approve=request.match_info["decision"] == "approve",
            principal=principal,
            comment=comment,
        )
    except ExtensionDecisionError as exc:
        return error_response(exc.status, exc.code, str(exc), {"ticket_id": ticket_id, "n": n})
    ext = doc["extensions"][n - 1]
    reply_due = doc["deadlines"]["reply_due"]
    return web.json_response(
        {
            "ticket_id": ticket_id,
            "extension": {"n": n, "state": ext["state"], "days": ext["days"]},
            "reply_due": reply_due.astimezone(service.tz).isoformat(timespec="seconds"),
            "extension_working_days": doc["deadlines"].get("extension_working_days", 0),
        }
    )


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
    app.router.add_post(r"/v1/tickets/{ticket_id}/extensions/{n}/{decision:approve|deny}", decide_extension)
    return app
