"""KPI rollup increments (pure): what each ticket change counts, and replay == sum of the steps."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from router.lifecycle import transition
from router.rollups import (
    FIELDS,
    NO_DEPARTMENT,
    REPLY_BUCKET_FIELDS,
    RollupInc,
    approx_median_reply_hours,
    kpis,
    merge_incs,
    reply_bucket_field,
    rollup_changes,
)
from schemas.v1.vocab import TicketState as S

TZ = ZoneInfo("Asia/Shanghai")
# 2025-03-03 is a Monday; 02:00 UTC = 10:00 in Shanghai
T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
DAY0 = date(2025, 3, 3)


class Ticket:
    """A ticket document changed the way router.plans / router.feedback change it (shape only)."""

    def __init__(
        self,
        *,
        at: datetime = T0,
        received_at: datetime | None = None,
        phone: bool = True,
        record_on_time: bool = True,
    ) -> None:
        #: record the on-time flags in the history entries (the change proposed for router.feedback)
        self.record_on_time = record_on_time
        self.doc: dict[str, Any] = {
            "_id": "T12345-abc",
            "hotline": "12345",
            "received_at": received_at or at,
            "state": S.RECEIVED.value,
            "department": None,
            "attempt": 0,
            "returned_by": [],
            "caller": {"phone": "13800000000"} if phone else None,
            "history": [
                transition("T", None, S.RECEIVED, at=at, actor="hotline:12345", reason="intake").to_doc()
            ],
        }
        self.steps: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        self._before: dict[str, Any] | None = None

    # a "change" is everything between two commits (as one stored write)
    def commit(self) -> list[RollupInc]:
        after = copy.deepcopy(self.doc)
        self.steps.append((self._before, after))
        incs = rollup_changes(self._before, after, tz=TZ)
        self._before = after
        return incs

    def _move(
        self, to: S, at: datetime, actor: str = "router", details: dict[str, Any] | None = None
    ) -> None:
        entry = transition("T", S(self.doc["state"]), to, at=at, actor=actor, reason="r", details=details)
        self.doc["state"] = to.value
        self.doc["history"].append(entry.to_doc())

    def dispatch(self, dept: str, at: datetime, *, sign_h: float = 24, reply_h: float = 120) -> Ticket:
        attempt = self.doc["attempt"] + 1
        self._move(S.DISPATCHED, at, details={"department": dept, "attempt": attempt, "kind": "new"})
        self.doc.update(
            department=dept,
            attempt=attempt,
            dispatched_at=at,
            signed_at=None,
            deadlines={"sign_due": at + timedelta(hours=sign_h), "reply_due": at + timedelta(hours=reply_h)},
        )
        return self

    def triage(self, at: datetime) -> Ticket:
        self._move(S.TRIAGE, at, details={"rule": "low_confidence"})
        self.doc["department"] = None
        return self

    def transfer(self, at: datetime) -> Ticket:
        self._move(S.TRANSFERRED, at, details={"to": "12328"})
        self.doc["department"] = None
        return self

    def sign(self, at: datetime) -> Ticket:
        dept = self.doc["department"]
        on_time = at <= self.doc["deadlines"]["sign_due"]
        details = {"on_time": on_time} if self.record_on_time else None
        self._move(S.SIGNED, at, actor=f"department:{dept}", details=details)
        self.doc["signed_at"] = at
        self.doc["signed_on_time"] = on_time
        return self

    def reply(self, at: datetime) -> Ticket:
        doc = self.doc
        dept = doc["department"]
        details: dict[str, Any] = {"resolved": True}
        if doc["state"] == S.DISPATCHED.value:
            doc["signed_at"] = at
            doc["signed_on_time"] = at <= doc["deadlines"]["sign_due"]
            if self.record_on_time:
                details["signed_on_time"] = doc["signed_on_time"]
        doc["replied_on_time"] = at <= doc["deadlines"]["reply_due"]
        if self.record_on_time:
            details["on_time"] = doc["replied_on_time"]
        self._move(S.REPLIED, at, actor=f"department:{dept}", details=details)
        doc["replied_at"] = at
        if not (doc.get("caller") or {}).get("phone"):
            self._move(S.CLOSED, at)
            return self
        self._move(S.CALLBACK_PENDING, at)
        doc["callback"] = {"attempts": 0, "results": [], "since": at}
        return self

    def returned(self, at: datetime, code: str = "职能不符") -> Ticket:
        dept = self.doc["department"]
        self._move(S.RETURNED, at, actor=f"department:{dept}", details={"reason_code": code})
        self.doc["returned_by"].append(dept)
        return self

    def extension(self, at: datetime, days: int = 3) -> Ticket:
        ext = self.doc.setdefault("extensions", [])
        ext.append(
            {
                "n": len(ext) + 1,
                "days": days,
                "requested_at": at,
                "department": self.doc["department"],
                "state": "pending",
            }
        )
        return self

    def callback(self, at: datetime, outcome: str = "reached", satisfaction: str | None = None) -> Ticket:
        cb = self.doc["callback"]
        cb["attempts"] += 1
        cb["results"].append({"at": at, "agent": "a1", "outcome": outcome, "satisfaction": satisfaction})
        if outcome == "reached":
            self.doc["satisfaction"] = satisfaction
            if satisfaction == "不满意":
                self._move(S.REOPENED, at, actor="agent:a1")
                self.doc["reopened"] = self.doc.get("reopened", 0) + 1
                return self.dispatch(self.doc["department"], at)
            self._move(S.CLOSED, at, actor="agent:a1")
        elif outcome in ("refused", "invalid_number") or cb["attempts"] >= 3:
            self._move(S.CLOSED, at, actor="agent:a1")
        return self


def counts(incs: list[RollupInc]) -> Counter[tuple[str, date, str]]:
    """(department, day, field) → n, summed (the hotline is always 12345 here)."""
    c: Counter[tuple[str, date, str]] = Counter()
    for i in incs:
        assert i.hotline == "12345"
        c[(i.department, i.day, i.field)] += i.n
    return c


def fields_of(incs: list[RollupInc], dept: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in incs:
        if i.department == dept:
            out[i.field] = out.get(i.field, 0) + i.n
    return out


# --- single changes ---------------------------------------------------------------------------------


def test_new_dispatched_ticket_counts_received_and_dispatched_for_its_department() -> None:
    t = Ticket().dispatch("jinan-taxi", T0)
    incs = t.commit()
    assert counts(incs) == Counter(
        {("jinan-taxi", DAY0, "received"): 1, ("jinan-taxi", DAY0, "dispatched"): 1}
    )


def test_received_is_counted_on_the_local_day_of_received_at() -> None:
    # 2025-03-02 17:00 UTC is 2025-03-03 01:00 in Shanghai; routed later the same local day
    t = Ticket(at=T0, received_at=datetime(2025, 3, 2, 17, 0, tzinfo=UTC)).dispatch("jinan-taxi", T0)
    assert ("jinan-taxi", DAY0, "received") in counts(t.commit())
    late = Ticket(at=T0, received_at=datetime(2025, 3, 2, 15, 59, tzinfo=UTC)).dispatch("jinan-taxi", T0)
    assert ("jinan-taxi", date(2025, 3, 2), "received") in counts(late.commit())


def test_naive_datetimes_are_read_as_utc() -> None:
    t = Ticket(at=datetime(2025, 3, 3, 17, 0)).dispatch("jinan-taxi", datetime(2025, 3, 3, 17, 0))
    assert ("jinan-taxi", date(2025, 3, 4), "dispatched") in counts(t.commit())


@pytest.mark.parametrize(
    ("route", "field"),
    [("triage", "triaged"), ("transfer", "transferred")],
)
def test_undispatched_intake_counts_under_the_pseudo_department(route: str, field: str) -> None:
    t = Ticket()
    getattr(t, route)(T0)
    assert counts(t.commit()) == Counter(
        {(NO_DEPARTMENT, DAY0, "received"): 1, (NO_DEPARTMENT, DAY0, field): 1}
    )


def test_triaged_then_dispatched_by_an_agent_counts_dispatched_for_the_department() -> None:
    t = Ticket().triage(T0)
    t.commit()
    t.dispatch("jinan-taxi", T0 + timedelta(hours=1))
    assert counts(t.commit()) == Counter({("jinan-taxi", DAY0, "dispatched"): 1})


def test_sign_after_the_due_time_is_late() -> None:
    t = Ticket().dispatch("jinan-taxi", T0, sign_h=2)
    t.commit()
    t.sign(T0 + timedelta(hours=3))
    assert fields_of(t.commit(), "jinan-taxi") == {"signed": 1, "signed_late": 1}


def test_sign_before_the_due_time_is_on_time() -> None:
    t = Ticket().dispatch("jinan-taxi", T0, sign_h=2)
    t.commit()
    t.sign(T0 + timedelta(hours=1))
    assert fields_of(t.commit(), "jinan-taxi") == {"signed": 1, "signed_on_time": 1}


def test_reply_within_the_due_time_is_on_time_with_its_working_time() -> None:
    t = Ticket().dispatch("jinan-taxi", T0, reply_h=48)
    t.commit()
    t.sign(T0 + timedelta(hours=1))
    t.commit()
    t.reply(T0 + timedelta(hours=30))
    assert fields_of(t.commit(), "jinan-taxi") == {
        "replied": 1,
        "replied_on_time": 1,
        "reply_work_minutes_sum": 30 * 60,
        "reply_h_le_48": 1,
        "callback_pending": 1,
    }


def test_reply_straight_from_dispatched_implies_the_sign_and_late_reply_is_late() -> None:
    t = Ticket().dispatch("jinan-taxi", T0, sign_h=24, reply_h=48)
    t.commit()
    t.reply(T0 + timedelta(hours=50))
    got = fields_of(t.commit(), "jinan-taxi")
    assert got["signed"] == 1 and got["signed_late"] == 1
    assert got["replied"] == 1 and got["replied_late"] == 1 and "replied_on_time" not in got


def test_working_time_to_reply_uses_the_injected_calendar() -> None:
    def weekdays_only(start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() / 2  # a stand-in calendar: half of the wall time counts

    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    t.reply(T0 + timedelta(hours=10))
    after = copy.deepcopy(t.doc)
    incs = rollup_changes(t.steps[-1][1], after, tz=TZ, work_seconds=weekdays_only)
    assert fields_of(incs, "jinan-taxi")["reply_work_minutes_sum"] == 300
    assert fields_of(incs, "jinan-taxi")["reply_h_le_8"] == 1


def test_return_for_wrong_function_counts_for_the_returning_department_and_redispatch_for_the_new() -> None:
    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    at = T0 + timedelta(hours=2)
    t.returned(at, "职能不符").dispatch("jinan-bus", at)
    incs = t.commit()
    assert fields_of(incs, "jinan-taxi") == {"returned": 1, "returned_wrong_function": 1}
    assert fields_of(incs, "jinan-bus") == {"dispatched": 1}


def test_return_for_another_reason_is_not_a_wrong_dispatch() -> None:
    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    t.returned(T0 + timedelta(hours=2), "信息不全").triage(T0 + timedelta(hours=2))
    incs = t.commit()
    assert fields_of(incs, "jinan-taxi") == {"returned": 1}
    assert fields_of(incs, NO_DEPARTMENT) == {"triaged": 1}


def test_extension_request_counts_its_days_for_the_requesting_department() -> None:
    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    t.extension(T0 + timedelta(days=1), days=4)
    assert counts(t.commit()) == Counter(
        {
            ("jinan-taxi", date(2025, 3, 4), "extension_requested"): 1,
            ("jinan-taxi", date(2025, 3, 4), "extension_days_requested"): 4,
        }
    )


def _replied_ticket() -> Ticket:
    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    t.reply(T0 + timedelta(hours=5))
    t.commit()
    return t


@pytest.mark.parametrize(("rating", "field"), [("满意", "satisfied"), ("基本满意", "fairly_satisfied")])
def test_satisfied_callback_counts_callback_rating_and_close(rating: str, field: str) -> None:
    t = _replied_ticket()
    t.callback(T0 + timedelta(hours=6), "reached", rating)
    assert fields_of(t.commit(), "jinan-taxi") == {
        "callbacks": 1,
        "callbacks_reached": 1,
        field: 1,
        "closed": 1,
    }


def test_dissatisfied_callback_reopens_and_redispatches() -> None:
    t = _replied_ticket()
    t.callback(T0 + timedelta(hours=6), "reached", "不满意")
    assert fields_of(t.commit(), "jinan-taxi") == {
        "callbacks": 1,
        "callbacks_reached": 1,
        "dissatisfied": 1,
        "reopened": 1,
        "dispatched": 1,
    }


def test_unanswered_callbacks_count_once_when_they_give_up() -> None:
    t = _replied_ticket()
    t.callback(T0 + timedelta(hours=6), "no_answer")
    assert t.commit() == []
    t.callback(T0 + timedelta(hours=7), "busy")
    assert t.commit() == []
    t.callback(T0 + timedelta(hours=8), "no_answer")
    assert fields_of(t.commit(), "jinan-taxi") == {"callbacks": 1, "closed": 1}


def test_reply_without_a_phone_closes_without_a_callback() -> None:
    t = Ticket(phone=False).dispatch("jinan-taxi", T0)
    t.commit()
    t.reply(T0 + timedelta(hours=1))
    got = fields_of(t.commit(), "jinan-taxi")
    assert got["closed"] == 1 and "callbacks" not in got and "callback_pending" not in got


def test_a_change_without_new_history_adds_nothing() -> None:
    t = Ticket().dispatch("jinan-taxi", T0)
    t.commit()
    t.doc.setdefault("progress", []).append({"note": "在办"})
    assert t.commit() == []


# --- replay -----------------------------------------------------------------------------------------


def _long_life(*, record_on_time: bool = True) -> Ticket:
    """Dispatched, returned (职能不符), re-dispatched, extended, signed late, replied, 不满意 → reopened,
    signed and replied again, callback unanswered once then 满意."""
    t = Ticket(record_on_time=record_on_time).dispatch("jinan-taxi", T0, sign_h=1)
    t.commit()
    t.returned(T0 + timedelta(hours=1), "职能不符").dispatch("jinan-bus", T0 + timedelta(hours=1), sign_h=1)
    t.commit()
    t.sign(T0 + timedelta(hours=3))
    t.commit()
    t.extension(T0 + timedelta(days=1), days=2)
    t.commit()
    t.reply(T0 + timedelta(days=2))
    t.commit()
    t.callback(T0 + timedelta(days=2, hours=2), "reached", "不满意")
    t.commit()
    t.sign(T0 + timedelta(days=2, hours=3))
    t.commit()
    t.reply(T0 + timedelta(days=4))
    t.commit()
    t.callback(T0 + timedelta(days=4, hours=1), "no_answer")
    t.commit()
    t.callback(T0 + timedelta(days=4, hours=5), "reached", "满意")
    t.commit()
    return t


def test_replaying_a_whole_ticket_equals_the_sum_of_its_steps() -> None:
    t = _long_life()
    stepwise = [i for before, after in t.steps for i in rollup_changes(before, after, tz=TZ)]
    replay = rollup_changes(None, t.doc, tz=TZ)
    assert counts(replay) == counts(stepwise)
    bus = fields_of(replay, "jinan-bus")
    assert bus["dispatched"] == 2  # the re-dispatch and the reopen
    assert bus["signed"] == 2 and bus["replied"] == 2
    assert bus["callbacks"] == 2 and bus["satisfied"] == 1 and bus["dissatisfied"] == 1
    assert bus["reopened"] == 1 and bus["closed"] == 1
    assert fields_of(replay, "jinan-taxi") == {
        "received": 1,
        "dispatched": 1,
        "returned": 1,
        "returned_wrong_function": 1,
    }


def test_replay_without_on_time_flags_in_history_cannot_classify_earlier_cycles() -> None:
    """Today's router.feedback keeps the on-time flags only on the ticket, where they describe the latest
    sign/reply: step by step every event is classified, a replay classifies only the latest ones (the
    others still count in ``signed``/``replied``). Recording ``on_time`` in history makes replay exact."""
    t = _long_life(record_on_time=False)
    stepwise = fields_of([i for b, a in t.steps for i in rollup_changes(b, a, tz=TZ)], "jinan-bus")
    replay = fields_of(rollup_changes(None, t.doc, tz=TZ), "jinan-bus")
    assert stepwise["signed"] == replay["signed"] == 2
    assert stepwise["signed_late"] + stepwise["signed_on_time"] == 2
    assert replay.get("signed_late", 0) + replay.get("signed_on_time", 0) == 1
    assert stepwise["replied_on_time"] + stepwise.get("replied_late", 0) == 2
    assert replay.get("replied_on_time", 0) + replay.get("replied_late", 0) == 1
    for field in set(FIELDS) - {"signed_on_time", "signed_late", "replied_on_time", "replied_late"}:
        assert stepwise.get(field, 0) == replay.get(field, 0), field


def test_on_time_flags_recorded_in_history_win_over_the_ticket_fields() -> None:
    t = Ticket(record_on_time=False).dispatch("jinan-taxi", T0, sign_h=1)
    t.sign(T0 + timedelta(minutes=30))
    t.doc["history"][-1]["details"] = {"on_time": False}  # what the history says is what happened
    assert fields_of(t.commit(), "jinan-taxi")["signed_late"] == 1


# --- merging and KPIs -------------------------------------------------------------------------------


def test_merge_incs_sums_duplicates_and_drops_zeros() -> None:
    a = RollupInc("d", DAY0, "12345", "received")
    b = RollupInc("d", DAY0, "12345", "dispatched", 2)
    z = RollupInc("e", DAY0, "12345", "received", 0)
    assert merge_incs([a, b, a, z, RollupInc("d", DAY0, "12345", "dispatched", -2)]) == [
        RollupInc("d", DAY0, "12345", "received", 2)
    ]


def test_every_emitted_field_is_a_known_counter() -> None:
    t = _long_life()
    assert {i.field for i in rollup_changes(None, t.doc, tz=TZ)} <= set(FIELDS)


def test_reply_buckets_and_approximate_median() -> None:
    assert reply_bucket_field(0) == "reply_h_le_2"
    assert reply_bucket_field(8) == "reply_h_le_8"
    assert reply_bucket_field(8.01) == "reply_h_le_24"
    assert reply_bucket_field(1000) == REPLY_BUCKET_FIELDS[-1]
    assert approx_median_reply_hours({}) is None
    # 4 replies in (8, 24]: the median (2nd of 4) is interpolated halfway into the bucket
    assert approx_median_reply_hours({"reply_h_le_24": 4}) == 16.0
    assert approx_median_reply_hours({"reply_h_le_2": 1, "reply_h_le_48": 1, "reply_h_le_72": 1}) == 36.0
    assert approx_median_reply_hours({"reply_h_gt_240": 3}) == 240.0


def test_kpis_from_counters() -> None:
    k = kpis(
        {
            "received": 10,
            "dispatched": 8,
            "signed_on_time": 3,
            "signed_late": 1,
            "replied_on_time": 1,
            "replied_late": 1,
            "returned": 2,
            "returned_wrong_function": 1,
            "extension_requested": 1,
            "callback_pending": 4,
            "callbacks_reached": 2,
            "satisfied": 1,
            "dissatisfied": 1,
            "reply_work_minutes_sum": 600,
            "reply_h_le_8": 1,
            "reply_h_le_2": 1,
        }
    )
    assert k["signed_on_time_pct"] == 75.0
    assert k["replied_on_time_pct"] == 50.0
    assert k["return_rate_pct"] == 25.0
    assert k["extension_rate_pct"] == 12.5
    assert k["callback_rate_pct"] == 50.0
    assert k["satisfaction_pct"] == 50.0
    assert k["dispatch_accuracy_pct"] == 87.5
    assert k["mean_reply_work_hours"] == 5.0
    assert kpis({})["signed_on_time_pct"] is None
