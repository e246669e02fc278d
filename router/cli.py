"""The ``hotline-router`` command (also ``python -m router``). Machine-readable outputs per DESIGN §3."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from config.settings import Settings
from router.logs import configure_logging
from router.service import Role


def _settings() -> Settings:
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    from router.serve import serve

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings, Role(args.role)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from router.demo import run_demo

    settings = _settings()
    configure_logging(args.log_level or "WARNING", settings.log_format)
    asyncio.run(run_demo(settings, rate=args.rate, duration_s=args.duration))
    return 0


def classify_lines(lines: Iterable[str], config_dir: Path, out: TextIO) -> int:
    """``classify FILE.jsonl``: the service's own path (schema → classifier → router), one JSON per line."""
    from router.domain import build_domain
    from router.tickets import ticket_text
    from schemas.v1.intake import INTAKE_ADAPTER

    domain = build_domain(config_dir)
    failures = 0
    batch: list[tuple[int, Any]] = []

    def flush() -> None:
        if not batch:
            return
        results = domain.classifier.classify_many([ticket_text(t) for _, t in batch])
        for (_, intake), c in zip(batch, results, strict=True):
            route = domain.router.route(intake.hotline, c)
            out.write(
                json.dumps(classification_output(intake.external_id, c, route), ensure_ascii=False) + "\n"
            )
        batch.clear()

    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            batch.append((n, INTAKE_ADAPTER.validate_json(line)))
        except ValidationError as exc:
            flush()
            failures += 1
            errors = exc.errors(include_url=False, include_input=False)
            out.write(
                json.dumps(
                    {
                        "line": n,
                        "error": {
                            "code": "invalid_ticket",
                            "message": errors[0]["msg"],
                            "details": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors],
                        },
                    },
                    ensure_ascii=False,
                    default=str,
                )
                + "\n"
            )
            continue
        if len(batch) >= 512:
            flush()
    flush()
    return 2 if failures else 0


def classification_output(external_id: str, c: Any, route: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "type": c.type.value,
        "domain": c.domain.value,
        "transport": c.transport.value if c.transport else None,
        "urgency": c.urgency.value,
        "area": c.area.code,
        "confidence": round(c.routing_confidence, 4),
        "confidences": {k: round(v, 4) for k, v in c.confidence.items()},
        "explanation": c.explanation,
        "model_version": c.model_version,
        "route": {
            "action": route.action.value,
            "department": route.department,
            "to": route.to.value if route.to else None,
            "rule": route.rule,
        },
    }


def cmd_classify(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging("WARNING", "console")
    if args.file == "-":
        return classify_lines(sys.stdin, settings.config_dir, sys.stdout)
    path = Path(args.file)
    if not path.exists():
        print(f"hotline-router classify: no such file: {path}", file=sys.stderr)
        return 2
    with path.open(encoding="utf-8") as fh:
        return classify_lines(fh, settings.config_dir, sys.stdout)


def cmd_token(args: argparse.Namespace) -> int:
    from router.tokens import TokenError, mint

    settings = _settings()
    try:
        token = mint(
            settings.jwt_secret.get_secret_value(),
            args.role,
            now=datetime.now(UTC),
            ttl=timedelta(seconds=args.ttl),
            subject=args.subject,
        )
    except TokenError as exc:
        print(f"hotline-router token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def cmd_sla_due(args: argparse.Namespace) -> int:
    from config.sla import load_sla_policy
    from router.calendar import WorkCalendar
    from router.deadlines import sla_due_json
    from schemas.v1.vocab import Hotline, TicketType, Urgency

    settings = _settings()
    try:
        received = datetime.fromisoformat(args.received)
        if received.tzinfo is None:
            raise ValueError("--received needs a UTC offset, e.g. 2026-02-13T14:00:00+08:00")
        ticket_type, urgency = TicketType(args.type), Urgency(args.urgency)
        hotline = Hotline(args.hotline) if args.hotline else None
    except ValueError as exc:
        print(f"hotline-router sla due: {exc}", file=sys.stderr)
        return 2
    policy = load_sla_policy(settings.config_dir)
    calendar = WorkCalendar.from_config(settings.config_dir, tz=settings.tz_name)
    result = sla_due_json(received, ticket_type, urgency, hotline, policy=policy, calendar=calendar)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from router.bench import bench

    settings = _settings()
    configure_logging("WARNING", settings.log_format)
    print(asyncio.run(bench(settings, n=args.tickets, runs=args.runs)))
    return 0


def cmd_rollups_rebuild(args: argparse.Namespace) -> int:
    from router.calendar import WorkCalendar
    from router.embedded import mongo_url_or_embedded
    from router.rollup_store import RollupStore
    from router.storage import Storage, connect

    settings = _settings()
    calendar = WorkCalendar.from_config(settings.config_dir, tz=settings.tz_name)

    async def run() -> int:
        async with mongo_url_or_embedded(settings.mongo_url, settings.data_dir) as url:
            client = connect(url)
            try:
                storage = Storage(client[settings.mongo_db])
                store = RollupStore(storage.rollups)
                await store.ensure_indexes()
                return await store.rebuild(
                    storage.tickets, tz=calendar.tz, work_seconds=calendar.working_seconds_between
                )
            finally:
                await client.close()

    print(json.dumps({"tickets_replayed": asyncio.run(run())}))
    return 0


DEFAULT_DATA_DIR = Path("../shared/data")
#: label sources ``train`` learns from (``return`` labels only say where a ticket did *not* belong)
TRAINING_LABEL_SOURCES = ("triage", "return_resolved")


async def stored_labels(settings: Settings) -> list[Any]:
    """Human labels recorded by the service for ``train``: agents' triage decisions, and the domain of
    the department that accepted a ticket after a 职能不符 return (``return_resolved``)."""
    from router.classification import joined_text
    from router.classify.training import LabelledExample
    from router.storage import Storage, connect
    from schemas.v1.vocab import Domain

    assert settings.mongo_url is not None
    client = connect(settings.mongo_url)
    try:
        storage = Storage(client[settings.mongo_db])
        examples = []
        query = {"source": {"$in": list(TRAINING_LABEL_SOURCES)}, "domain": {"$ne": None}}
        async for label in storage.labels.find(query):
            text = joined_text(label["content"], label.get("title"))
            examples.append(LabelledExample(text=text, domain=Domain(label["domain"])))
        return examples
    finally:
        await client.close()


def cmd_train(args: argparse.Namespace) -> int:
    from router.classify.training import TRAINING_TICKETS_DIR, train

    settings = _settings()
    configure_logging("WARNING", settings.log_format)
    extra = asyncio.run(stored_labels(settings)) if settings.mongo_url and not args.no_labels else []
    tickets = Path(args.tickets_dir) if args.tickets_dir else TRAINING_TICKETS_DIR
    report = train(Path(args.data_dir), Path(args.out), extra, tickets_dir=tickets)
    print(report.format())
    print(f"labels from the database: {len(extra)}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from router.classify.training import evaluate

    settings = _settings()
    configure_logging("WARNING", settings.log_format)
    model_dir = Path(args.model_dir) if args.model_dir else settings.config_dir.parent / "models"
    print(evaluate(Path(args.data_dir), model_dir, settings.config_dir).format())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the service (consumers, timers, HTTP API)")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.ALL.value)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="the whole loop with simulated hotlines, departments and agents")
    p.add_argument("--rate", type=float, default=20.0, help="simulated tickets per second (default 20)")
    p.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)"
    )
    p.add_argument("--log-level", default=None, help="service log level during the demo (default WARNING)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "classify", help="classify and route intake tickets from a JSONL file (or - for stdin)"
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("token", help="mint a development bearer token signed with JWT_SECRET")
    p.add_argument("--role", required=True, help="supervisor | agent | department:<code>")
    p.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    p.add_argument("--subject", default="dev")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("train", help="train the domain model on the labelled data plus stored human labels")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="labelled CSVs (default ../shared/data)")
    p.add_argument("--out", default="config/models", help="where the versioned model file is written")
    p.add_argument("--no-labels", action="store_true", help="ignore the labels stored in MONGO_URL")
    p.add_argument(
        "--tickets-dir",
        default=None,
        help="labelled hotline tickets (*.jsonl) for the hotline scorer (default: config/training)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate", help="accuracy, macro-F1, per-class F1, confusion matrix on the held-out file"
    )
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--model-dir", default=None, help="default: the newest model next to CONFIG_DIR")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bench", help="pipeline vs bare-consumer throughput and latency (DESIGN §9)")
    p.add_argument("--tickets", type=int, default=2000, help="tickets per run (default 2000)")
    p.add_argument("--runs", type=int, default=3, help="runs; the last line gives the medians (default 3)")
    p.set_defaults(func=cmd_bench)

    rollups = sub.add_parser("rollups", help="KPI rollups").add_subparsers(
        dest="rollups_command", required=True
    )
    p = rollups.add_parser(
        "rebuild", help="recompute kpi_rollups from the tickets (stop the consumers first)"
    )
    p.set_defaults(func=cmd_rollups_rebuild)

    sla = sub.add_parser("sla", help="SLA tools").add_subparsers(dest="sla_command", required=True)
    p = sla.add_parser("due", help="sign-off and reply deadlines of a ticket received at a given time")
    p.add_argument("--received", required=True, help="ISO 8601 with offset, e.g. 2026-09-30T10:00:00+08:00")
    p.add_argument("--type", required=True, help="咨询|求助|投诉|举报|建议|表扬")
    p.add_argument("--urgency", default="一般", help="一般|紧急|特急 (default 一般)")
    p.add_argument("--hotline", choices=["12328", "12345"], default=None)
    p.set_defaults(func=cmd_sla_due)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
