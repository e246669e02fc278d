"""The pure domain, built once from the operator's configuration (``CONFIG_DIR``): classifier, router,
SLA policy and working-day calendar. Invalid configuration fails here, at start-up, with a clear error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from config.directory import Directory
from config.sla import SlaPolicy, load_sla_policy
from router import deadlines as dl
from router.calendar import WorkCalendar
from router.classification import Classifier
from router.clock import as_utc
from router.routing import Router
from router.sla import DeadlineSet
from schemas.v1.vocab import Hotline, TicketType, Urgency


class PolicyDeadlines:
    """``DeadlineCalculator`` on the operator's SLA policy and the official working-day calendar."""

    def __init__(self, policy: SlaPolicy, calendar: WorkCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    def for_dispatch(
        self, *, at: datetime, type: TicketType, urgency: Urgency, hotline: Hotline
    ) -> DeadlineSet:
        d = dl.compute_deadlines(at, type, urgency, hotline, policy=self.policy, calendar=self.calendar)
        ret = dl.return_window_end(at, hotline, policy=self.policy, calendar=self.calendar)
        cal = self.calendar
        late_after = self.policy.rules_for(hotline).circular_after_working_days
        circular_at = cal.start_of_day(cal.add_working_days(cal.local_date(d.reply_due), late_after + 1))
        return DeadlineSet(
            sign_due=d.sign_due,
            reply_due=d.reply_due,
            sign_warn_at=d.sign_warn_at,
            reply_warn_at=d.reply_warn_at,
            return_until=ret.due,
            circular_at=circular_at,
            provisional=d.provisional or ret.provisional,
            policy_version=d.policy_version,
            calendar_version=d.calendar_version,
        )

    def extended(self, doc: dict[str, Any], *, days: int, requested_at: datetime) -> DeadlineSet:
        """The ticket's deadlines after a supervisor approved ``days`` more working days
        (raises ``deadlines.ExtensionRejected`` when the request was too late or over the limit)."""
        stored = doc["deadlines"]
        c = doc["classification"]
        hotline = Hotline(doc["hotline"])
        current = dl.Deadlines(
            received_at=as_utc(doc["received_at"]),
            start=as_utc(doc["dispatched_at"]),
            type=TicketType(c["type"]),
            urgency=Urgency(c["urgency"]),
            hotline=hotline,
            sign_due=as_utc(stored["sign_due"]),
            sign_warn_at=as_utc(stored["sign_warn_at"]),
            reply_due=as_utc(stored["reply_due"]),
            reply_warn_at=as_utc(stored["reply_warn_at"]),
            provisional=bool(stored["provisional"]),
            policy_version=stored["policy_version"],
            calendar_version=stored["calendar_version"],
            extension_working_days=int(stored.get("extension_working_days", 0)),
        )
        new = dl.apply_extension(current, requested_at, days, policy=self.policy, calendar=self.calendar)
        cal = self.calendar
        late_after = self.policy.rules_for(hotline).circular_after_working_days
        return DeadlineSet(
            sign_due=new.sign_due,
            reply_due=new.reply_due,
            sign_warn_at=new.sign_warn_at,
            reply_warn_at=new.reply_warn_at,
            return_until=as_utc(stored["return_until"]) if stored.get("return_until") else None,
            circular_at=cal.start_of_day(cal.add_working_days(cal.local_date(new.reply_due), late_after + 1)),
            provisional=new.provisional,
            policy_version=new.policy_version,
            calendar_version=new.calendar_version,
            extension_working_days=new.extension_working_days,
        )

    def for_triage(self, *, received_at: datetime, hotline: Hotline) -> DeadlineSet:
        due = dl.dispatch_due(received_at, hotline, policy=self.policy, calendar=self.calendar)
        return DeadlineSet(
            sign_due=None,
            reply_due=None,
            dispatch_due=due.due,
            dispatch_warn_at=due.warn_at,
            provisional=due.provisional,
            policy_version=self.policy.version,
            calendar_version=self.calendar.version,
        )


@dataclass(frozen=True, slots=True)
class Domain:
    classifier: Classifier
    router: Router
    deadlines: PolicyDeadlines
    policy: SlaPolicy
    calendar: WorkCalendar

    @property
    def directory(self) -> Directory:
        return self.router.directory

    @property
    def max_extension_days(self) -> int:
        return self.policy.rules_for(None).extension.max_total_working_days

    @property
    def callback_attempts(self) -> int:
        return self.policy.rules_for(None).callback.max_attempts

    def calling_window(self, hotline: Hotline | None = None) -> str:
        w = self.policy.rules_for(hotline).callback.window
        return f"{w.start:%H:%M}-{w.end:%H:%M}"

    def call_time(self, ticket: dict[str, Any], now: datetime) -> datetime | None:
        """When an agent may next call this ticket's citizen (calling window, retry spacing, attempts)."""
        cb = ticket.get("callback") or {}
        results = cb.get("results") or []
        last = as_utc(results[-1]["at"]) if results else None
        return dl.next_call_time(
            now,
            Hotline(ticket["hotline"]),
            policy=self.policy,
            calendar=self.calendar,
            attempts_made=int(cb.get("attempts", 0)),
            last_attempt_at=last,
        )


def build_domain(
    config_dir: Path, *, classifier: Classifier | None = None, tz_name: str = "Asia/Shanghai"
) -> Domain:
    from router.classify import build_classifier

    router = Router.from_config(config_dir)
    policy = load_sla_policy(config_dir)
    calendar = WorkCalendar.from_config(config_dir, tz=tz_name)
    return Domain(
        classifier=classifier or build_classifier(config_dir),
        router=router,
        deadlines=PolicyDeadlines(policy, calendar),
        policy=policy,
        calendar=calendar,
    )
