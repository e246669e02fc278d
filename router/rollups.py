"""KPI rollups, pure part: which counters a change to a ticket adds to ``kpi_rollups`` (DESIGN §3, §8, §9).

A rollup document counts events per **department × local day × hotline**. ``rollup_changes(before,
after)`` compares a ticket before and after one stored change and returns the increments; it reads the
*new* history entries (``after.history`` beyond ``len(before.history)``), using the entries before them
only as context (who holds the ticket, when it was dispatched), plus a few field diffs. Because nothing
depends on how the changes were batched, replaying a whole ticket (``before=None``) yields exactly the sum
of the increments of every step: that is how ``rebuild`` recomputes the rollups from the tickets.

Counter fields (stable names; the store sums them, ``kpis`` turns sums into the summary):

=============================  ===================================================================
``received``                   a ticket was received; department = the one it was dispatched to at
                               intake, else ``"-"`` (triage, transfer, merge, rejection); day = the
                               local day of ``received_at``
``dispatched``                 a dispatch (new, re-dispatch after a return, reopen) to the department
``triaged``                    the ticket went to the human triage queue (department ``"-"``)
``transferred``                handed to the other hotline (``"-"``)
``merged``                     merged into an open ticket of the same caller (``"-"``)
``rejected``                   rejected as invalid (``"-"``)
``signed``                     the department signed (explicitly, or implicitly by replying)
``signed_on_time``             … before ``sign_due``; ``signed_late`` after it. ``signed`` may exceed
                               their sum when a replayed old cycle carries no on-time flag.
``replied``                    the department replied (办结); ``replied_on_time`` / ``replied_late``
``reply_work_minutes_sum``     working minutes from the (last) dispatch to the reply, summed
``reply_h_le_2`` … ``reply_h_gt_240``
                               histogram of working hours to reply (one bucket per reply, bounds in
                               ``REPLY_BUCKETS_H``): the approximate median comes from it
``returned``                   the department returned the ticket (退单);
                               ``returned_wrong_function`` when the reason code was 职能不符
``extension_requested``        an extension (延期) request; ``extension_days_requested`` its days
``callback_pending``           a callback became due after a reply (应回访)
``callbacks``                  a callback finished: the citizen was reached, or the calls gave up
``callbacks_reached``          … and the citizen was reached and rated the handling: ``satisfied``
                               (满意), ``fairly_satisfied`` (基本满意), ``dissatisfied`` (不满意)
``reopened``                   reopened (重办) after dissatisfaction
``closed``                     closed (结案)
=============================  ===================================================================

Days are local (``tz``, Asia/Shanghai) days of the event; stored times are UTC (naive ones are read as
UTC). Working time comes from an injected ``work_seconds(start, end)`` (the service passes
``WorkCalendar.working_seconds_between``); without it wall-clock time is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from router.clock import as_utc
from schemas.v1.vocab import CallbackOutcome, ReturnReason, Satisfaction, TicketState

S = TicketState

#: department of events that belong to no department (triage, transfer, merge, undispatched intake)
NO_DEPARTMENT = "-"

#: upper bounds (working hours, inclusive) of the reply-time histogram; the last bucket is open
REPLY_BUCKETS_H: tuple[int, ...] = (2, 8, 24, 48, 72, 120, 240)


def reply_bucket_field(hours: float) -> str:
    """The histogram field a reply taking ``hours`` working hours falls into."""
    for bound in REPLY_BUCKETS_H:
        if hours <= bound:
            return f"reply_h_le_{bound}"
    return f"reply_h_gt_{REPLY_BUCKETS_H[-1]}"


REPLY_BUCKET_FIELDS: tuple[str, ...] = (
    *(f"reply_h_le_{b}" for b in REPLY_BUCKETS_H),
    f"reply_h_gt_{REPLY_BUCKETS_H[-1]}",
)

#: every counter a rollup document may hold
FIELDS: tuple[str, ...] = (
    "received",
    "dispatched",
    "triaged",
    "transferred",
    "merged",
    "rejected",
    "signed",
    "signed_on_time",
    "signed_late",
    "replied",
    "replied_on_time",
    "replied_late",
    "reply_work_minutes_sum",
    *REPLY_BUCKET_FIELDS,
    "returned",
    "returned_wrong_function",
    "extension_requested",
    "extension_days_requested",
    "callback_pending",
    "callbacks",
    "callbacks_reached",
    "satisfied",
    "fairly_satisfied",
    "dissatisfied",
    "reopened",
    "closed",
)

_SATISFACTION_FIELD = {
    Satisfaction.SATISFIED.value: "satisfied",
    Satisfaction.FAIRLY.value: "fairly_satisfied",
    Satisfaction.DISSATISFIED.value: "dissatisfied",
}

WorkSeconds = Callable[[datetime, datetime], float]


@dataclass(frozen=True, slots=True)
class RollupInc:
    """Add ``n`` to counter ``field`` of the rollup of (``department``, local ``day``, ``hotline``)."""

    department: str
    day: date
    hotline: str
    field: str
    n: int = 1

    @property
    def key(self) -> str:
        """The rollup document's ``_id``: ``"<department>|<YYYY-MM-DD>|<hotline>"``."""
        return rollup_id(self.department, self.day, self.hotline)


def rollup_id(department: str, day: date, hotline: str) -> str:
    return f"{department}|{day.isoformat()}|{hotline}"


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {value!r}")
    return as_utc(value)


def _department_of(actor: Any) -> str | None:
    if isinstance(actor, str) and actor.startswith("department:"):
        return actor.removeprefix("department:")
    return None


def _is_sign(entry: Mapping[str, Any]) -> bool:
    """Signing is explicit, or implied by replying straight from ``dispatched``."""
    return entry["to"] == S.SIGNED.value or (
        entry["to"] == S.REPLIED.value and entry.get("from") == S.DISPATCHED.value
    )


def _last_index(history: Sequence[Mapping[str, Any]], pred: Callable[[Mapping[str, Any]], bool]) -> int:
    for i in range(len(history) - 1, -1, -1):
        if pred(history[i]):
            return i
    return -1


def _flag(details: Mapping[str, Any], key: str, fallback: Any, *, is_last: bool) -> bool | None:
    """An on-time flag: from the history entry when it records one, else from the ticket's field — which
    describes only the latest such event (always the case for the new entries of one change)."""
    if key in details and isinstance(details[key], bool):
        return bool(details[key])
    if is_last and isinstance(fallback, bool):
        return fallback
    return None


def rollup_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    tz: ZoneInfo,
    work_seconds: WorkSeconds | None = None,
) -> list[RollupInc]:
    """The counter increments that turning ticket ``before`` into ``after`` adds (``before=None``: a new
    ticket, or a whole ticket replayed by ``rebuild``). Pure; duplicates are not merged (``merge_incs``)."""
    hotline = str(after["hotline"])
    history: Sequence[Mapping[str, Any]] = after.get("history") or []
    start = len((before or {}).get("history") or [])
    out: list[RollupInc] = []

    def add(department: str | None, when: datetime, field: str, n: int = 1) -> None:
        day = _aware(when).astimezone(tz).date()
        out.append(RollupInc(department or NO_DEPARTMENT, day, hotline, field, n))

    last_sign = _last_index(history, _is_sign)
    last_reply = _last_index(history, lambda h: h["to"] == S.REPLIED.value)
    holder: str | None = None  # the department that holds (or last held) the ticket
    dispatched_at: datetime | None = None

    for i, entry in enumerate(history):
        to = entry["to"]
        at = _aware(entry["at"])
        details: Mapping[str, Any] = entry.get("details") or {}
        new = i >= start
        actor_department = _department_of(entry.get("actor"))

        if to == S.DISPATCHED.value:
            holder = str(details.get("department") or after.get("department") or NO_DEPARTMENT)
            dispatched_at = at
        if not new:
            if to in (S.TRIAGE.value, S.TRANSFERRED.value):
                holder = None
            continue

        if to == S.RECEIVED.value:
            first = history[1] if len(history) > 1 else None
            department = None
            if first is not None and first["to"] == S.DISPATCHED.value:
                department = (first.get("details") or {}).get("department")
            add(department, after.get("received_at") or at, "received")
        elif to == S.DISPATCHED.value:
            add(holder, at, "dispatched")
        elif to == S.TRIAGE.value:
            add(None, at, "triaged")
            holder = None
        elif to == S.TRANSFERRED.value:
            add(None, at, "transferred")
            holder = None
        elif to == S.MERGED.value:
            add(None, at, "merged")
        elif to == S.REJECTED.value:
            add(None, at, "rejected")
        elif to == S.RETURNED.value:
            department = actor_department or holder
            add(department, at, "returned")
            if details.get("reason_code") == ReturnReason.WRONG_FUNCTION.value:
                add(department, at, "returned_wrong_function")
        elif to == S.CALLBACK_PENDING.value:
            add(holder, at, "callback_pending")
        elif to == S.REOPENED.value:
            add(holder, at, "reopened")
            if entry.get("from") == S.CALLBACK_PENDING.value:  # reopening follows a 不满意 callback
                satisfaction = details.get("satisfaction", Satisfaction.DISSATISFIED.value)
                _callback_done(add, holder, at, satisfaction)
        elif to == S.CLOSED.value:
            add(holder, at, "closed")
            if entry.get("from") == S.CALLBACK_PENDING.value:
                _callback_done(add, holder, at, _closing_satisfaction(details, after))

        if _is_sign(entry):
            department = actor_department or holder
            add(department, at, "signed")
            key = "on_time" if to == S.SIGNED.value else "signed_on_time"
            on_time = _flag(details, key, after.get("signed_on_time"), is_last=i == last_sign)
            if on_time is not None:
                add(department, at, "signed_on_time" if on_time else "signed_late")
        if to == S.REPLIED.value:
            department = actor_department or holder
            add(department, at, "replied")
            on_time = _flag(details, "on_time", after.get("replied_on_time"), is_last=i == last_reply)
            if on_time is not None:
                add(department, at, "replied_on_time" if on_time else "replied_late")
            if dispatched_at is not None:
                seconds = (
                    work_seconds(dispatched_at, at) if work_seconds else (at - dispatched_at).total_seconds()
                )
                seconds = max(seconds, 0.0)
                add(department, at, "reply_work_minutes_sum", round(seconds / 60))
                add(department, at, reply_bucket_field(seconds / 3600))

    old_extensions = len((before or {}).get("extensions") or [])
    for ext in (after.get("extensions") or [])[old_extensions:]:
        department = ext.get("department") or holder
        add(department, ext["requested_at"], "extension_requested")
        add(department, ext["requested_at"], "extension_days_requested", int(ext.get("days") or 0))
    return out


def _closing_satisfaction(details: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """The rating that closed a callback: from the entry, else from the last callback result (closing is
    terminal, so that result is the one that closed it). ``None`` when the citizen was not reached."""
    if "satisfaction" in details:
        value = details["satisfaction"]
        return str(value) if value else None
    results = (after.get("callback") or {}).get("results") or []
    if not results:
        return None
    last = results[-1]
    if last.get("outcome") != CallbackOutcome.REACHED.value:
        return None
    value = last.get("satisfaction")
    return str(value) if value else None


def _callback_done(
    add: Callable[[str | None, datetime, str], None],
    department: str | None,
    at: datetime,
    satisfaction: str | None,
) -> None:
    add(department, at, "callbacks")
    field = _SATISFACTION_FIELD.get(satisfaction or "")
    if field is not None:
        add(department, at, "callbacks_reached")
        add(department, at, field)


def merge_incs(incs: Iterable[RollupInc]) -> list[RollupInc]:
    """Sum increments with the same (department, day, hotline, field); zero sums are dropped."""
    totals: dict[tuple[str, date, str, str], int] = {}
    for inc in incs:
        k = (inc.department, inc.day, inc.hotline, inc.field)
        totals[k] = totals.get(k, 0) + inc.n
    return [RollupInc(d, day, h, f, n) for (d, day, h, f), n in totals.items() if n]


# --- from sums to KPIs ---------------------------------------------------------------------------


def approx_median_reply_hours(counts: Mapping[str, int]) -> float | None:
    """The median working hours to reply, interpolated linearly inside the histogram bucket that holds it
    (bucket ``(lo, hi]``); when it falls in the open last bucket, that bucket's lower bound (a floor)."""
    sizes = [int(counts.get(f, 0) or 0) for f in REPLY_BUCKET_FIELDS]
    total = sum(sizes)
    if total <= 0:
        return None
    half = total / 2
    seen = 0
    lower = 0.0
    for bound, size in zip((*REPLY_BUCKETS_H, math.inf), sizes, strict=True):
        if size and seen + size >= half:
            if math.isinf(bound):
                return lower
            return round(lower + (bound - lower) * (half - seen) / size, 1)
        seen += size
        lower = float(bound)
    return lower


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den > 0 else None


def kpis(counts: Mapping[str, int]) -> dict[str, Any]:
    """DESIGN §8's summary figures from summed counters (``None`` where the denominator is zero).
    Percentages are 0–100 with one decimal."""

    def c(name: str) -> int:
        return int(counts.get(name, 0) or 0)

    dispatched = c("dispatched")
    timed = sum(c(f) for f in REPLY_BUCKET_FIELDS)  # replies whose time to reply is known
    reached = c("callbacks_reached")
    return {
        "received": c("received"),
        "dispatched": dispatched,
        "signed_on_time_pct": _pct(c("signed_on_time"), c("signed_on_time") + c("signed_late")),
        "replied_on_time_pct": _pct(c("replied_on_time"), c("replied_on_time") + c("replied_late")),
        "return_rate_pct": _pct(c("returned"), dispatched),
        "extension_rate_pct": _pct(c("extension_requested"), dispatched),
        "callback_rate_pct": _pct(reached, c("callback_pending")),
        "satisfaction_pct": _pct(c("satisfied") + c("fairly_satisfied"), reached),
        "reopened": c("reopened"),
        "closed": c("closed"),
        "mean_reply_work_hours": (round(c("reply_work_minutes_sum") / 60 / timed, 1) if timed else None),
        "median_reply_work_hours": approx_median_reply_hours(counts),
        "dispatch_accuracy_pct": (
            round(100.0 - 100.0 * c("returned_wrong_function") / dispatched, 1) if dispatched else None
        ),
    }
