"""The HTTP health endpoints and the command line, as an operator uses them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from config.settings import PACKAGED_CONFIG_DIR, Settings
from router.cli import classify_lines, main
from router.domain import Domain
from router.serve import running
from schemas.export import schemas

REPO = Path(__file__).resolve().parents[2]


async def test_health_readiness_and_metrics(settings: Settings, domain: Domain) -> None:
    async with running(settings) as (_service, base), aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}
        async with http.get(f"{base}/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["database"] == "ok" and body["broker"] == "ok"
        async with http.get(f"{base}/metrics") as r:
            assert r.status == 200 and "hotline_ready 1.0" in await r.text()
        async with http.get(f"{base}/nope") as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


def test_classify_cli_prints_one_json_per_line_with_the_route() -> None:
    lines = [
        json.dumps(
            {
                "hotline": "12328",
                "external_id": "A",
                "received_at": "2026-11-27T09:00:00+08:00",
                "content": "乘客反映鲁B12345出租车司机拒载，要求处理",
            },
            ensure_ascii=False,
        ),
        json.dumps(
            {
                "hotline": "12328",
                "external_id": "B",
                "received_at": "2026-11-27T09:00:00+08:00",
                "content": "市民反映历下区某小区物业不作为，电梯多次故障无人维修",
                "address": "济南市历下区",
            },
            ensure_ascii=False,
        ),
        '{"hotline": "12345", "external_id": "C"}',
    ]
    out = io.StringIO()
    rc = classify_lines(lines, PACKAGED_CONFIG_DIR, out)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert rc == 2, "an invalid line makes the exit code non-zero"
    a, b, bad = rows
    assert set(a) >= {
        "external_id",
        "type",
        "domain",
        "transport",
        "urgency",
        "area",
        "confidence",
        "explanation",
        "route",
    }
    assert (a["domain"], a["transport"], a["type"], a["area"]) == ("交通运输", "出租汽车", "投诉", "3702")
    assert a["route"] == {
        "action": "dispatch",
        "department": "qingdao-taxi",
        "to": None,
        "rule": a["route"]["rule"],
    }
    assert b["area"] == "370102" and b["route"]["action"] == "transfer" and b["route"]["to"] == "12345"
    assert bad["line"] == 3 and bad["error"]["code"] == "invalid_ticket"


def test_sla_due_cli(capsys: object) -> None:
    assert main(["sla", "due", "--received", "2026-09-30T10:00:00+08:00", "--type", "投诉"]) == 0
    printed = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    # National Day 1–7 Oct off, Sat 10 Oct a make-up workday: 8, 9, 10, 12, 13 Oct
    assert printed == {
        "sign_due": "2026-10-08T23:59:59+08:00",
        "reply_due": "2026-10-13T23:59:59+08:00",
        "provisional": False,
        "policy": printed["policy"],
    }


def test_exported_json_schemas_are_in_sync_with_the_models() -> None:
    for name, text in schemas().items():
        path = REPO / "docs" / "schemas" / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, f"run `make schemas` ({name})"


def test_serve_stops_gracefully_on_sigterm(settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AMQP_URL": settings.amqp_url,
        "MONGO_URL": settings.mongo_url or "",
        "MONGO_DB": settings.mongo_db,
        "AMQP_PREFIX": settings.amqp_prefix,
        "HTTP_PORT": "0",
        "LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "router", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until it is up
        if '"service_started"' in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert '"shutdown_requested"' in rest and '"service_stopped"' in rest


async def test_supervisor_approves_an_extension_and_only_then_the_deadline_moves(
    settings: Settings, domain: Domain
) -> None:
    from datetime import UTC, datetime, timedelta

    from router.tokens import mint
    from tests.integration.amqp_helpers import Peer, wait_until

    secret = settings.jwt_secret.get_secret_value()
    now = datetime.now(UTC)

    def token(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(secret, role, now=now, ttl=timedelta(minutes=5))}"}

    async with running(settings) as (service, base), Peer(settings) as peer, aiohttp.ClientSession() as http:
        await peer.intake(
            {
                "hotline": "12328",
                "external_id": "EXT-1",
                "received_at": now.isoformat(),
                "content": "乘客反映鲁A12345出租车司机拒载，要求处理",
                "address": "济南市历下区",
            }
        )
        (dispatch,) = await peer.drain(peer.names.department_queue("jinan-taxi"), expect=1, timeout=20)
        tid = dispatch.json["ticket_id"]
        assert service.components is not None
        storage = service.components.storage
        for days in (3, 2):
            await peer.feedback(
                "dept.jinan-taxi.extension",
                {
                    "ticket_id": tid,
                    "department": "jinan-taxi",
                    "at": datetime.now(UTC).isoformat(),
                    "days": days,
                    "reason": "需现场核查",
                },
            )

        async def two_requests() -> bool:
            doc = await storage.get_ticket(tid)
            return doc is not None and len(doc.get("extensions", [])) == 2

        await wait_until(two_requests, timeout=20, what="both extension requests recorded")
        before = await storage.get_ticket(tid)
        assert before is not None
        old_due = before["deadlines"]["reply_due"]

        url = f"{base}/v1/tickets/{tid}/extensions/1/approve"
        async with http.post(url) as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
        async with http.post(url, headers=token("department:jinan-taxi")) as r:
            assert r.status == 403
        async with http.post(f"{base}/v1/tickets/{tid}/extensions/2/deny", headers=token("supervisor")) as r:
            assert r.status == 200 and (await r.json())["extension"]["state"] == "denied"
        after_deny = await storage.get_ticket(tid)
        assert after_deny is not None and after_deny["deadlines"]["reply_due"] == old_due, (
            "a denial moves nothing"
        )

        async with http.post(url, headers=token("supervisor"), json={"comment": "同意"}) as r:
            body = await r.json()
            assert r.status == 200, body
        assert (
            body["extension"] == {"n": 1, "state": "approved", "days": 3}
            and body["extension_working_days"] == 3
        )
        doc = await storage.get_ticket(tid)
        assert doc is not None
        new_due = doc["deadlines"]["reply_due"]
        cal = domain.calendar
        assert cal.local_date(new_due) == cal.add_working_days(cal.local_date(old_due), 3)
        timer = await storage.timers.find_one({"ticket_id": tid, "kind": "sla"})
        assert timer is not None
        assert next(s for s in timer["steps"] if s["name"] == "reply.breach")["due"] == new_due
        async with http.post(url, headers=token("supervisor")) as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "already_decided"
        assert await storage.audit.count_documents({"ticket_id": tid}) == 2


async def test_train_reads_triage_and_resolved_return_labels_from_the_database(settings: Settings) -> None:
    from datetime import UTC, datetime

    from router.cli import stored_labels
    from router.storage import Storage, connect
    from schemas.v1.vocab import Domain as D

    assert settings.mongo_url is not None
    client = connect(settings.mongo_url)
    try:
        storage = Storage(client[settings.mongo_db])
        at = datetime.now(UTC)
        for source, domain, content in [
            ("triage", "交通运输", "乘客反映出租车拒载"),
            ("return_resolved", "城乡建设", "小区门口路灯不亮"),
            ("return", "交通运输", "只说明不属于退单部门"),  # says where it did not belong: not learnt
            ("triage", None, "人工分拣未改领域"),
        ]:
            await storage.add_label({"source": source, "domain": domain, "content": content, "at": at})
    finally:
        await client.close()
    labels = await stored_labels(settings)
    assert sorted((x.text, x.domain) for x in labels) == [
        ("乘客反映出租车拒载", D.TRANSPORT),
        ("小区门口路灯不亮", D.URBAN),
    ]
