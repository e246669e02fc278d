"""SLA deadline arithmetic (DESIGN §7): pure functions of times, the policy and the calendar.

Definitions (see docs/sla.md for the long form):

* **Wall-clock limit** (``{hours: 2}``): due = clock start + duration; warning at
  clock start + ``warning_ratio`` × duration.
* **Working-day limit** (``{working_days: N}``): due = ``end_of_day`` local time of the N-th working
  day, where working day 1 is the first working day *after* the local date of the clock start
  (``counting: next_working_day``), or that date itself when it is a working day and the clock
  starts before ``end_of_day`` (``counting: same_day``).
  The *allowed time* is the working time (the parts of whole working days, 24 h each) between the
  *effective start* — 00:00 of working day 1, or the clock start itself under same-day counting —
  and the due time; the warning is the instant when ``warning_ratio`` of it has elapsed.
* **Provisional**: a working-day result that depends on a year whose official schedule the
  calendar does not have (see :meth:`router.calendar.WorkCalendar.is_range_known`).

All inputs and outputs are timezone-aware; outputs are in the calendar's zone (Asia/Shanghai) —
convert with :func:`router.calendar.to_utc` to store. No function reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from config.sla import CallDays, ClockRules, Counting, Limit, SlaPolicy
from router.calendar import WorkCalendar, require_aware
from schemas.v1.vocab import Hotline, TicketType, Urgency


class ExtensionRejected(ValueError):
    """An extension (延期) request that the rules do not allow; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PolicyVersionMismatch(ValueError):
    """Recomputing deadlines with a policy other than the one they were computed with."""


class SlaLight(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"  # 黄灯: warning time reached
    RED = "red"  # 红灯: due time passed


@dataclass(frozen=True, slots=True)
class ClockDue:
    """One running clock: when it started, when it warns, when it is due."""

    start: datetime
    warn_at: datetime
    due: datetime
    provisional: bool


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The sign-off and reply deadlines of one ticket, with everything needed to recompute them."""

    received_at: datetime
    #: when the clocks started (dispatch or reopen time; ``received_at`` unless given)
    start: datetime
    type: TicketType
    urgency: Urgency
    hotline: Hotline | None
    sign_due: datetime
    sign_warn_at: datetime
    reply_due: datetime
    reply_warn_at: datetime
    provisional: bool
    policy_version: str
    calendar_version: str
    #: approved extensions (延期) so far, already included in ``reply_due``
    extension_working_days: int = 0


# --------------------------------------------------------------------------------------------------
# One clock
# --------------------------------------------------------------------------------------------------


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def clock_due(start: datetime, limit: Limit, *, rules: ClockRules, calendar: WorkCalendar) -> ClockDue:
    """Due and warning time of one clock that starts at ``start`` with ``limit``."""
    require_aware("start", start)
    start = calendar.local(start)
    duration = limit.wall_clock
    if duration is not None:
        return ClockDue(
            start=start,
            warn_at=start + duration * rules.warning_ratio,
            due=start + duration,
            provisional=False,
        )
    assert limit.working_days is not None
    anchor, effective_start = _counting_origin(start, rules, calendar)
    last_day = calendar.add_working_days(anchor, limit.working_days)
    due = calendar.at(last_day, rules.end_of_day)
    return ClockDue(
        start=start,
        warn_at=_working_warning(effective_start, due, rules.warning_ratio, calendar),
        due=due,
        provisional=not calendar.is_range_known(start.date(), last_day),
    )


def _counting_origin(start: datetime, rules: ClockRules, calendar: WorkCalendar) -> tuple[date, datetime]:
    """``(anchor, effective_start)``: working day N is ``add_working_days(anchor, N)``, and the
    allowed time is measured from ``effective_start``."""
    local = calendar.local(start)
    day0 = local.date()
    if (
        rules.counting is Counting.SAME_DAY
        and calendar.is_working_day(day0)
        and local.time() < rules.end_of_day
    ):
        return day0 - timedelta(days=1), local
    return day0, calendar.start_of_day(calendar.next_working_day(day0))


def _working_warning(
    effective_start: datetime, due: datetime, ratio: float, calendar: WorkCalendar
) -> datetime:
    allowed = calendar.working_time_between(effective_start, due)
    return _floor_second(calendar.add_working_time(effective_start, allowed * ratio))


def sla_light(clock_warn_at: datetime, clock_due_at: datetime, now: datetime) -> SlaLight:
    """Green before the warning time, yellow from it, red once the due time has passed."""
    require_aware("now", now)
    if now > clock_due_at:
        return SlaLight.RED
    if now >= clock_warn_at:
        return SlaLight.YELLOW
    return SlaLight.GREEN


# --------------------------------------------------------------------------------------------------
# Ticket deadlines
# --------------------------------------------------------------------------------------------------


def compute_deadlines(
    received_at: datetime,
    type: TicketType,
    urgency: Urgency,
    hotline: Hotline | None,
    *,
    policy: SlaPolicy,
    calendar: WorkCalendar,
    start: datetime | None = None,
) -> Deadlines:
    """Sign-off (签收) and reply (办结) deadlines of a ticket.

    ``start`` is when the clocks start if not at receipt (e.g. the dispatch of a triaged ticket or a
    reopen); both clocks run from it in parallel.
    """
    require_aware("received_at", received_at)
    rules = policy.rules_for(hotline)
    clock_start = received_at if start is None else start
    sign = clock_due(clock_start, rules.sign[urgency], rules=rules, calendar=calendar)
    reply = clock_due(clock_start, rules.reply.limit_for(type, urgency), rules=rules, calendar=calendar)
    return Deadlines(
        received_at=calendar.local(received_at),
        start=sign.start,
        type=type,
        urgency=urgency,
        hotline=hotline,
        sign_due=sign.due,
        sign_warn_at=sign.warn_at,
        reply_due=reply.due,
        reply_warn_at=reply.warn_at,
        provisional=sign.provisional or reply.provisional,
        policy_version=policy.version,
        calendar_version=calendar.version,
    )


def needs_recompute(deadlines: Deadlines, calendar: WorkCalendar) -> bool:
    """True when the deadlines were computed with other calendar data than ``calendar``'s."""
    return deadlines.calendar_version != calendar.version


def recompute(
    previous: Deadlines,
    *,
    policy: SlaPolicy,
    calendar: WorkCalendar,
    allow_policy_change: bool = False,
) -> Deadlines:
    """The same ticket's deadlines on the current calendar, approved extensions re-applied.

    Raises :class:`PolicyVersionMismatch` if ``policy`` is not the version the deadlines were computed
    with, unless ``allow_policy_change`` (then the new policy's limits apply).
    """
    if policy.version != previous.policy_version and not allow_policy_change:
        raise PolicyVersionMismatch(
            f"deadlines were computed with policy {previous.policy_version!r}, got {policy.version!r}"
        )
    fresh = compute_deadlines(
        previous.received_at,
        previous.type,
        previous.urgency,
        previous.hotline,
        policy=policy,
        calendar=calendar,
        start=previous.start,
    )
    if previous.extension_working_days:
        fresh = _extend(fresh, previous.extension_working_days, policy=policy, calendar=calendar)
    return fresh


# --------------------------------------------------------------------------------------------------
# Extensions (延期)
# --------------------------------------------------------------------------------------------------


def check_extension_request(
    deadlines: Deadlines, requested_at: datetime, days: int, *, policy: SlaPolicy
) -> None:
    """Raise :class:`ExtensionRejected` unless the request may go to a supervisor.

    Rules: at least 1 working day; requested strictly before the current reply deadline; all
    approved extensions plus this one at most ``extension.max_total_working_days``.
    """
    require_aware("requested_at", requested_at)
    limit = policy.rules_for(deadlines.hotline).extension.max_total_working_days
    if days < 1:
        raise ExtensionRejected("invalid_days", f"an extension must be at least 1 working day, got {days}")
    if requested_at >= deadlines.reply_due:
        raise ExtensionRejected(
            "too_late",
            f"extension requested at {requested_at.isoformat()}, not before the reply deadline "
            f"{deadlines.reply_due.isoformat()}",
        )
    total = deadlines.extension_working_days + days
    if total > limit:
        raise ExtensionRejected(
            "over_limit",
            f"{deadlines.extension_working_days} WD already approved + {days} WD requested = {total} WD, "
            f"more than the {limit} WD allowed",
        )


def apply_extension(
    deadlines: Deadlines,
    requested_at: datetime,
    days: int,
    *,
    policy: SlaPolicy,
    calendar: WorkCalendar,
) -> Deadlines:
    """The deadlines after a supervisor approved an extension of ``days`` working days.

    Only approved extensions move the deadline: call this on approval, with the time the department
    requested it (validated as in :func:`check_extension_request`). The reply deadline moves to
    ``end_of_day`` of the ``days``-th working day after the current deadline's date; the warning time
    is recomputed for the longer allowed time.
    """
    check_extension_request(deadlines, requested_at, days, policy=policy)
    return _extend(deadlines, days, policy=policy, calendar=calendar)


def _extend(deadlines: Deadlines, days: int, *, policy: SlaPolicy, calendar: WorkCalendar) -> Deadlines:
    rules = policy.rules_for(deadlines.hotline)
    due_day = calendar.add_working_days(calendar.local_date(deadlines.reply_due), days)
    due = calendar.at(due_day, rules.end_of_day)
    base = rules.reply.limit_for(deadlines.type, deadlines.urgency)
    start = deadlines.start
    if base.wall_clock is not None:
        warn_at = start + (due - start) * rules.warning_ratio
    else:
        _, effective_start = _counting_origin(start, rules, calendar)
        warn_at = _working_warning(effective_start, due, rules.warning_ratio, calendar)
    provisional = deadlines.provisional or not calendar.is_range_known(calendar.local_date(start), due_day)
    return replace(
        deadlines,
        reply_due=due,
        reply_warn_at=warn_at,
        provisional=provisional,
        # calendar_version stays: the base deadlines were computed with that data (recompute() redoes
        # the whole chain on a newer calendar)
        extension_working_days=deadlines.extension_working_days + days,
    )


# --------------------------------------------------------------------------------------------------
# Other clocks
# --------------------------------------------------------------------------------------------------


def dispatch_due(
    received_at: datetime, hotline: Hotline | None, *, policy: SlaPolicy, calendar: WorkCalendar
) -> ClockDue:
    """Dispatch clock of a ticket that went to human triage (received → dispatched)."""
    rules = policy.rules_for(hotline)
    return clock_due(received_at, rules.dispatch, rules=rules, calendar=calendar)


def return_window_end(
    dispatched_at: datetime, hotline: Hotline | None, *, policy: SlaPolicy, calendar: WorkCalendar
) -> ClockDue:
    """Until when a department may return (退单) a ticket dispatched at ``dispatched_at``."""
    rules = policy.rules_for(hotline)
    return clock_due(dispatched_at, rules.return_window, rules=rules, calendar=calendar)


def callback_due(
    replied_at: datetime, hotline: Hotline | None, *, policy: SlaPolicy, calendar: WorkCalendar
) -> ClockDue:
    """When the citizen callback (回访) after the reply at ``replied_at`` is due."""
    rules = policy.rules_for(hotline)
    return clock_due(replied_at, rules.callback.within, rules=rules, calendar=calendar)


def next_call_time(
    now: datetime,
    hotline: Hotline | None,
    *,
    policy: SlaPolicy,
    calendar: WorkCalendar,
    attempts_made: int = 0,
    last_attempt_at: datetime | None = None,
) -> datetime | None:
    """The earliest time ≥ ``now`` an agent may call the citizen back, or None when no attempt is left.

    A call is allowed inside the calling window ``[start, end)`` (local time) on an allowed day
    (``call_days``: any day, or working days only), at least ``retry_after_minutes`` after the
    previous attempt. The result may lie after the callback deadline; the caller decides what a late
    callback means.
    """
    require_aware("now", now)
    rules = policy.rules_for(hotline).callback
    if attempts_made >= rules.max_attempts:
        return None
    earliest = calendar.local(now)
    if last_attempt_at is not None:
        require_aware("last_attempt_at", last_attempt_at)
        earliest = max(
            earliest, calendar.local(last_attempt_at) + timedelta(minutes=rules.retry_after_minutes)
        )
    day = earliest.date()
    for _ in range(400):
        if rules.call_days is CallDays.ANY_DAY or calendar.is_working_day(day):
            opens, closes = calendar.at(day, rules.window.start), calendar.at(day, rules.window.end)
            if earliest < closes:
                return max(earliest, opens)
        day += timedelta(days=1)
    raise ValueError(f"no allowed calling day within 400 days after {earliest.isoformat()}")


# --------------------------------------------------------------------------------------------------
# Overdue
# --------------------------------------------------------------------------------------------------


def overdue_working_days(due: datetime, now: datetime, calendar: WorkCalendar) -> int:
    """Working days begun since the due date: working days ``d`` with due date < d ≤ today.

    0 while not overdue, and 0 on the due date itself (even past a wall-clock due time).
    """
    require_aware("due", due)
    require_aware("now", now)
    if now <= due:
        return 0
    return calendar.working_days_between(calendar.local_date(due), calendar.local_date(now))


def is_circular(
    due: datetime,
    now: datetime,
    *,
    calendar: WorkCalendar,
    policy: SlaPolicy,
    hotline: Hotline | None = None,
) -> bool:
    """More than ``circular_after_working_days`` (5) working days overdue → 通报."""
    limit = policy.rules_for(hotline).circular_after_working_days
    return overdue_working_days(due, now, calendar) > limit


# --------------------------------------------------------------------------------------------------
# CLI output
# --------------------------------------------------------------------------------------------------


def iso_local(value: datetime, calendar: WorkCalendar) -> str:
    """ISO 8601 in the calendar's zone to the second, e.g. ``2026-02-14T23:59:59+08:00``."""
    return calendar.local(value).isoformat(timespec="seconds")


def sla_due_json(
    received: datetime,
    type: TicketType,
    urgency: Urgency,
    hotline: Hotline | None,
    *,
    policy: SlaPolicy,
    calendar: WorkCalendar,
) -> dict[str, object]:
    """The object ``hotline-router sla due`` prints (DESIGN §3)."""
    deadlines = compute_deadlines(received, type, urgency, hotline, policy=policy, calendar=calendar)
    return {
        "sign_due": iso_local(deadlines.sign_due, calendar),
        "reply_due": iso_local(deadlines.reply_due, calendar),
        "provisional": deadlines.provisional,
        "policy": deadlines.policy_version,
    }
