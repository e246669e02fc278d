"""SLA deadlines (DESIGN §7) on the published 2025/2026 schedules, the policy file, and properties."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from config.settings import PACKAGED_CONFIG_DIR
from config.sla import CallDays, Counting, SlaPolicy, SlaPolicyError, load_sla_policy, parse_sla_policy
from router.calendar import CalendarOverrides, NaiveDatetimeError, WorkCalendar, to_utc
from router.deadlines import (
    ExtensionRejected,
    PolicyVersionMismatch,
    SlaLight,
    apply_extension,
    callback_due,
    check_extension_request,
    compute_deadlines,
    dispatch_due,
    is_circular,
    needs_recompute,
    next_call_time,
    overdue_working_days,
    recompute,
    return_window_end,
    sla_due_json,
    sla_light,
)
from schemas.v1.vocab import Hotline, TicketType, Urgency

TZ = ZoneInfo("Asia/Shanghai")
POLICY = load_sla_policy(PACKAGED_CONFIG_DIR)
CAL = WorkCalendar.from_config(PACKAGED_CONFIG_DIR)
FIRST_UNKNOWN = max(WorkCalendar.from_package().known_years) + 1
RAW_POLICY: dict[str, Any] = yaml.safe_load((PACKAGED_CONFIG_DIR / "sla.yaml").read_text(encoding="utf-8"))

C, H, P, R, S, Z = (TicketType(t) for t in ("咨询", "求助", "投诉", "举报", "建议", "表扬"))
NORMAL, URGENT, CRITICAL = Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL


def at(text: str) -> datetime:
    """Local Beijing time from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def eod(day: str) -> str:
    return f"{day}T23:59:59+08:00"


def due(received: str, type_: TicketType, urgency: Urgency, **kw: Any) -> dict[str, object]:
    return sla_due_json(
        at(received),
        type_,
        urgency,
        kw.pop("hotline", None),
        policy=kw.pop("policy", POLICY),
        calendar=kw.pop("calendar", CAL),
    )


def policy_with(**changes: Any) -> SlaPolicy:
    raw = {**RAW_POLICY, "version": "test-1", "defaults": {**RAW_POLICY["defaults"], **changes}}
    return parse_sla_policy(raw)


# ---------------------------------------------------------------------------------------------------
# `sla due` on the published schedules
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "received,type_,sign,reply",
    [
        # Fri before Spring Festival 2026: day 1 is Sat 14 Feb (调休上班); 15–23 off; 24, 25, 26, 27
        ("2026-02-13 14:00", P, "2026-02-14", "2026-02-27"),
        ("2026-02-13 14:00", C, "2026-02-14", "2026-02-24"),
        # received on the make-up Saturday itself: next working day is after the holiday
        ("2026-02-14 10:00", C, "2026-02-24", "2026-02-25"),
        # received during the holiday
        ("2026-02-18 09:00", H, "2026-02-24", "2026-02-28"),  # 24, 25, 26, 27, 28 (Sat 调休上班)
        # Fri 27 Feb: day 1 is Sat 28 Feb (调休上班)
        ("2026-02-27 16:00", C, "2026-02-28", "2026-03-02"),
        # National Day 2026: Oct 1–7 off, Sep 20 (Sun) and Oct 10 (Sat) work
        ("2026-09-19 10:00", C, "2026-09-20", "2026-09-21"),
        ("2026-09-30 16:00", P, "2026-10-08", "2026-10-13"),  # 8, 9, 10(Sat), 12, 13
        ("2026-10-03 10:00", C, "2026-10-08", "2026-10-09"),
        ("2026-10-09 10:00", R, "2026-10-10", "2026-10-15"),  # 10(Sat), 12, 13, 14, 15
        # 2025 National Day + Mid-Autumn: Oct 1–8 off, Sep 28 (Sun) and Oct 11 (Sat) work
        ("2025-09-26 18:00", C, "2025-09-28", "2025-09-29"),
        ("2025-09-30 09:00", S, "2025-10-09", "2025-10-14"),  # 9, 10, 11(Sat), 13, 14
        # 2025 Spring Festival: Jan 28–Feb 4 off, Jan 26 (Sun) and Feb 8 (Sat) work
        ("2025-01-24 11:00", Z, "2025-01-26", "2025-02-07"),  # 26(Sun), 27, Feb 5, 6, 7
    ],
)
def test_sla_due_across_published_holidays(received: str, type_: TicketType, sign: str, reply: str) -> None:
    assert due(received, type_, NORMAL) == {
        "sign_due": eod(sign),
        "reply_due": eod(reply),
        "provisional": False,
        "policy": "sd-2026.1",
    }


def test_urgent_clocks_are_wall_clock_even_on_holidays() -> None:
    assert due("2026-10-01 10:00", P, URGENT) == {
        "sign_due": "2026-10-01T12:00:00+08:00",
        "reply_due": "2026-10-02T10:00:00+08:00",
        "provisional": False,
        "policy": "sd-2026.1",
    }
    assert due("2026-02-16 23:50", H, CRITICAL)["sign_due"] == "2026-02-17T00:20:00+08:00"
    assert due("2026-02-16 23:50", H, CRITICAL)["reply_due"] == "2026-02-17T01:50:00+08:00"
    # a wall-clock deadline into an unpublished year is not provisional: no calendar involved
    assert due(f"{FIRST_UNKNOWN - 1}-12-31 23:00", P, URGENT)["provisional"] is False


def test_input_in_utc_gives_beijing_output() -> None:
    received = to_utc(at("2026-02-13 14:00"))
    out = sla_due_json(received, P, NORMAL, None, policy=POLICY, calendar=CAL)
    assert out["sign_due"] == eod("2026-02-14")
    # 2026-02-13 23:30 UTC is already Saturday 14 Feb 07:30 in Beijing
    late = datetime.fromisoformat("2026-02-13T23:30:00+00:00")
    assert sla_due_json(late, C, NORMAL, None, policy=POLICY, calendar=CAL)["sign_due"] == eod("2026-02-24")


def test_naive_received_time_is_rejected() -> None:
    with pytest.raises(NaiveDatetimeError):
        sla_due_json(datetime(2026, 2, 13, 14), P, NORMAL, None, policy=POLICY, calendar=CAL)


# ---------------------------------------------------------------------------------------------------
# Provisional deadlines and recomputation
# ---------------------------------------------------------------------------------------------------


def test_deadline_into_a_year_without_data_is_provisional() -> None:
    # 2026-12-25 (Fri): 28, 29, 30, 31 Dec, then 2027 — 1 Jan is a statutory holiday (override file,
    # complete: false), no make-up days are known → Mon 4 Jan, provisional
    out = due("2026-12-25 10:00", P, NORMAL)
    if FIRST_UNKNOWN == 2027:
        assert out == {
            "sign_due": eod("2026-12-28"),
            "reply_due": eod("2027-01-04"),
            "provisional": True,
            "policy": "sd-2026.1",
        }
    assert due(f"{FIRST_UNKNOWN + 3}-06-01 10:00", C, NORMAL)["provisional"] is True
    assert due("2026-12-01 10:00", P, NORMAL)["provisional"] is False


def test_unknown_year_counts_weekends_only() -> None:
    year = FIRST_UNKNOWN + 3
    friday = next(date(year, 3, d) for d in range(1, 8) if date(year, 3, d).weekday() == 4)
    out = due(f"{friday} 10:00", P, NORMAL)
    assert out["sign_due"] == eod(str(friday + timedelta(days=3)))  # Monday
    assert out["reply_due"] == eod(str(friday + timedelta(days=7)))  # next Friday


def _complete(cal: WorkCalendar, year: int, **data: list[str]) -> WorkCalendar:
    return cal.with_overrides(CalendarOverrides.model_validate({"years": {year: {"complete": True, **data}}}))


def test_override_making_the_year_complete_removes_provisional() -> None:
    year = FIRST_UNKNOWN
    cal = _complete(CAL, year, holidays=[f"{year}-01-01"])
    out = sla_due_json(at(f"{year - 1}-12-25 10:00"), P, NORMAL, None, policy=POLICY, calendar=cal)
    assert out["provisional"] is False


def test_recompute_when_the_schedule_arrives() -> None:
    year = FIRST_UNKNOWN
    first = compute_deadlines(
        at(f"{year - 1}-12-28 10:00"), P, NORMAL, Hotline.H12345, policy=POLICY, calendar=CAL
    )
    assert first.provisional
    assert first.calendar_version == CAL.version and first.policy_version == "sd-2026.1"
    assert not needs_recompute(first, CAL)
    # a hypothetical notice for that year: 1 Jan off, the first Saturday after it a make-up workday
    saturday = next(date(year, 1, d) for d in range(2, 9) if date(year, 1, d).weekday() == 5)
    published = _complete(CAL, year, holidays=[f"{year}-01-01"], workdays=[str(saturday)])
    assert needs_recompute(first, published)
    again = recompute(first, policy=POLICY, calendar=published)
    assert not again.provisional
    assert again.calendar_version == published.version
    assert again.received_at == first.received_at and again.start == first.start
    expected_day = published.add_working_days(date(year - 1, 12, 28), 5)
    assert again.reply_due == published.at(expected_day, time(23, 59, 59))
    assert not needs_recompute(again, published)
    if year == 2027:  # Mon 28 Dec: 29, 30, 31, (1 Jan off) Sat 2 Jan 调休, Mon 4 Jan — not Tue 5 Jan
        assert first.reply_due == datetime(2027, 1, 5, 23, 59, 59, tzinfo=TZ)
        assert again.reply_due == datetime(2027, 1, 4, 23, 59, 59, tzinfo=TZ)


def test_recompute_refuses_another_policy_unless_allowed() -> None:
    first = compute_deadlines(at("2026-12-24 10:00"), P, NORMAL, None, policy=POLICY, calendar=CAL)
    other = policy_with()
    with pytest.raises(PolicyVersionMismatch):
        recompute(first, policy=other, calendar=CAL)
    assert recompute(first, policy=other, calendar=CAL, allow_policy_change=True).policy_version == "test-1"


# ---------------------------------------------------------------------------------------------------
# Warning times (黄灯)
# ---------------------------------------------------------------------------------------------------


def test_wall_clock_warning_is_80_percent_of_the_duration() -> None:
    d = compute_deadlines(at("2026-02-13 14:00"), P, URGENT, None, policy=POLICY, calendar=CAL)
    assert d.sign_warn_at == at("2026-02-13 15:36")  # 80 % of 2 h
    assert d.reply_warn_at == at("2026-02-14 09:12")  # 80 % of 24 h


def test_working_day_warning_is_80_percent_of_the_working_time() -> None:
    d = compute_deadlines(at("2026-02-13 14:00"), P, NORMAL, None, policy=POLICY, calendar=CAL)
    # sign: 1 WD = Sat 14 Feb 00:00–23:59:59 → 80 % of 86 399 s = 69 119.2 s → 19:11:59
    assert d.sign_warn_at == datetime(2026, 2, 14, 19, 11, 59, tzinfo=TZ)
    # reply: 5 WD (14, 24, 25, 26, 27 Feb): 80 % falls just before the end of the 4th, 26 Feb
    assert d.reply_warn_at == datetime(2026, 2, 26, 23, 59, 59, tzinfo=TZ)
    assert sla_light(d.reply_warn_at, d.reply_due, at("2026-02-20 12:00")) is SlaLight.GREEN
    assert sla_light(d.reply_warn_at, d.reply_due, at("2026-02-27 08:00")) is SlaLight.YELLOW
    assert sla_light(d.reply_warn_at, d.reply_due, at("2026-02-28 00:00")) is SlaLight.RED


# ---------------------------------------------------------------------------------------------------
# Policy options
# ---------------------------------------------------------------------------------------------------


def test_same_day_counting() -> None:
    policy = policy_with(counting="same_day")
    # Fri 13 Feb is a working day: it is day 1
    assert due("2026-02-13 14:00", P, NORMAL, policy=policy)["sign_due"] == eod("2026-02-13")
    assert due("2026-02-13 14:00", P, NORMAL, policy=policy)["reply_due"] == eod("2026-02-26")
    # received on a holiday: day 1 is still the next working day
    assert due("2026-02-16 10:00", C, NORMAL, policy=policy)["reply_due"] == eod("2026-02-25")
    d = compute_deadlines(at("2026-02-13 14:00"), P, NORMAL, None, policy=policy, calendar=CAL)
    # allowed time runs from receipt: 10 h on the 13th → warning at 80 % = 8 h → 22:00
    assert d.sign_warn_at == datetime(2026, 2, 13, 21, 59, 59, tzinfo=TZ)


def test_same_day_counting_after_end_of_day_moves_to_the_next_working_day() -> None:
    policy = policy_with(counting="same_day", end_of_day="18:00")
    assert due("2026-02-13 19:00", P, NORMAL, policy=policy)["sign_due"] == "2026-02-14T18:00:00+08:00"


def test_configurable_end_of_day() -> None:
    policy = policy_with(end_of_day="17:30:00")
    assert due("2026-02-13 14:00", P, NORMAL, policy=policy)["sign_due"] == "2026-02-14T17:30:00+08:00"


def test_per_hotline_override_merges_with_defaults() -> None:
    raw = {
        **RAW_POLICY,
        "hotlines": {
            12328: {"reply": {"by_type": {"咨询": {"working_days": 1}}}, "sign": {"特急": {"hours": 1}}}
        },
    }
    policy = parse_sla_policy(raw)
    assert policy.rules_for(Hotline.H12328).reply.limit_for(C, NORMAL).working_days == 1
    assert policy.rules_for(Hotline.H12328).reply.limit_for(P, NORMAL).working_days == 5  # kept
    assert policy.rules_for(Hotline.H12328).sign[CRITICAL].wall_clock == timedelta(hours=1)  # replaced whole
    assert due("2026-02-13 14:00", C, NORMAL, hotline=Hotline.H12328, policy=policy)["reply_due"] == eod(
        "2026-02-14"
    )
    assert due("2026-02-13 14:00", C, NORMAL, hotline=Hotline.H12345, policy=policy)["reply_due"] == eod(
        "2026-02-24"
    )
    assert policy.rules_for(None) is policy.defaults


def test_shipped_policy_has_the_shandong_defaults() -> None:
    rules = POLICY.defaults
    assert POLICY.version == "sd-2026.1"
    assert rules.counting is Counting.NEXT_WORKING_DAY and rules.end_of_day == time(23, 59, 59)
    assert rules.sign[CRITICAL].wall_clock == timedelta(minutes=30)
    assert rules.sign[URGENT].wall_clock == timedelta(hours=2)
    assert rules.sign[NORMAL].working_days == 1
    assert rules.reply.limit_for(P, CRITICAL).wall_clock == timedelta(hours=2)
    assert rules.reply.limit_for(C, URGENT).wall_clock == timedelta(hours=24)
    assert rules.reply.limit_for(C, NORMAL).working_days == 2
    assert {rules.reply.limit_for(t, NORMAL).working_days for t in (H, P, R, S, Z)} == {5}
    assert rules.dispatch.wall_clock == timedelta(hours=2)
    assert rules.return_window.working_days == 2
    assert rules.extension.max_total_working_days == 10
    assert rules.callback.within.working_days == 2 and rules.callback.max_attempts == 3
    assert (rules.callback.window.start, rules.callback.window.end) == (time(9), time(20))
    assert rules.warning_ratio == 0.8 and rules.circular_after_working_days == 5


@pytest.mark.parametrize(
    "change,needle",
    [
        (
            {"sign": {"特急": {"minutes": 30}, "一般": {"working_days": 1}}},
            "missing a limit for urgency 紧急",
        ),
        ({"dispatch": {"hours": 2, "working_days": 1}}, "exactly one of"),
        ({"dispatch": {"hours": -1}}, "greater than 0"),
        ({"reply": {"by_urgency": {}, "by_type": {"咨询": {"working_days": 2}}}}, "by_type lacks 求助"),
        ({"end_of_day": 86399}, "write times in quotes"),
        ({"warning_ratio": 1.5}, "less than 1"),
        ({"counting": "tomorrow"}, "next_working_day"),
        (
            {
                "callback": {
                    **RAW_POLICY["defaults"]["callback"],
                    "window": {"start": "20:00", "end": "09:00"},
                }
            },
            "after start",
        ),
        (
            {
                "sign": {
                    "特急": {"minutes": 30},
                    "紧急": {"hours": 2},
                    "一般": {"working_days": 1},
                    "超急": {"hours": 1},
                }
            },
            "sign.超急",
        ),
    ],
)
def test_invalid_policy_fails_with_the_location(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(SlaPolicyError, match=needle) as info:
        policy_with(**change)
    assert "defaults." in str(info.value)


def test_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SlaPolicyError, match="cannot read"):
        load_sla_policy(tmp_path)
    (tmp_path / "sla.yaml").write_text("version: [\n", encoding="utf-8")
    with pytest.raises(SlaPolicyError, match="not valid YAML"):
        load_sla_policy(tmp_path)
    (tmp_path / "sla.yaml").write_text(
        yaml.safe_dump({**RAW_POLICY, "version": "has space"}), encoding="utf-8"
    )
    with pytest.raises(SlaPolicyError, match="version"):
        load_sla_policy(tmp_path)
    bad_hotline = {**RAW_POLICY, "hotlines": {"12329": {}}}
    with pytest.raises(SlaPolicyError, match=r"hotlines\.12329"):
        parse_sla_policy(bad_hotline)


# ---------------------------------------------------------------------------------------------------
# Other clocks
# ---------------------------------------------------------------------------------------------------


def test_dispatch_clock_is_two_hours_wall_clock() -> None:
    clock = dispatch_due(at("2026-10-01 19:00"), None, policy=POLICY, calendar=CAL)
    assert clock.due == at("2026-10-01 21:00") and clock.warn_at == at("2026-10-01 20:36")
    assert not clock.provisional


def test_return_window_is_two_working_days_from_dispatch() -> None:
    assert return_window_end(at("2026-09-30 10:00"), None, policy=POLICY, calendar=CAL).due == datetime(
        2026, 10, 9, 23, 59, 59, tzinfo=TZ
    )
    assert return_window_end(at("2026-02-13 10:00"), None, policy=POLICY, calendar=CAL).due == datetime(
        2026, 2, 24, 23, 59, 59, tzinfo=TZ
    )


def test_callback_due_two_working_days_after_the_reply() -> None:
    clock = callback_due(at("2026-02-13 16:00"), Hotline.H12345, policy=POLICY, calendar=CAL)
    assert clock.due == datetime(2026, 2, 24, 23, 59, 59, tzinfo=TZ)  # Sat 14 (调休), Tue 24


def test_start_moves_the_clocks() -> None:
    d = compute_deadlines(
        at("2026-02-12 10:00"), P, URGENT, None, policy=POLICY, calendar=CAL, start=at("2026-02-12 11:30")
    )
    assert d.received_at == at("2026-02-12 10:00")
    assert d.sign_due == at("2026-02-12 13:30")


# ---------------------------------------------------------------------------------------------------
# Extensions (延期)
# ---------------------------------------------------------------------------------------------------


def test_approved_extension_moves_the_reply_deadline_across_the_holiday() -> None:
    d = compute_deadlines(at("2026-02-09 10:00"), P, NORMAL, None, policy=POLICY, calendar=CAL)
    assert d.reply_due == datetime(2026, 2, 14, 23, 59, 59, tzinfo=TZ)  # 10, 11, 12, 13, 14(Sat 调休)
    ext = apply_extension(d, at("2026-02-12 09:00"), 3, policy=POLICY, calendar=CAL)
    assert ext.reply_due == datetime(2026, 2, 26, 23, 59, 59, tzinfo=TZ)  # 24, 25, 26
    assert ext.extension_working_days == 3
    assert ext.sign_due == d.sign_due
    assert d.reply_warn_at < ext.reply_warn_at < ext.reply_due
    # a second one adds up, and recomputation re-applies the total
    ext2 = apply_extension(ext, at("2026-02-25 09:00"), 7, policy=POLICY, calendar=CAL)
    assert ext2.extension_working_days == 10
    assert ext2.reply_due.date() == CAL.add_working_days(date(2026, 2, 14), 10)
    assert recompute(ext2, policy=POLICY, calendar=CAL) == ext2


def test_extension_rules() -> None:
    d = compute_deadlines(at("2026-02-09 10:00"), P, NORMAL, None, policy=POLICY, calendar=CAL)
    with pytest.raises(ExtensionRejected, match="not before the reply deadline") as late:
        check_extension_request(d, datetime(2026, 2, 15, 0, 0, tzinfo=TZ), 2, policy=POLICY)
    assert late.value.reason == "too_late"
    with pytest.raises(ExtensionRejected) as over:
        apply_extension(d, at("2026-02-10 09:00"), 11, policy=POLICY, calendar=CAL)
    assert over.value.reason == "over_limit"
    with pytest.raises(ExtensionRejected) as zero:
        check_extension_request(d, at("2026-02-10 09:00"), 0, policy=POLICY)
    assert zero.value.reason == "invalid_days"
    check_extension_request(d, at("2026-02-14 23:59"), 10, policy=POLICY)  # just in time, at the limit


# ---------------------------------------------------------------------------------------------------
# Callback calls
# ---------------------------------------------------------------------------------------------------


def test_next_call_time_stays_inside_the_window() -> None:
    def call(now: str, **kw: Any) -> datetime | None:
        return next_call_time(at(now), None, policy=kw.pop("policy", POLICY), calendar=CAL, **kw)

    assert call("2026-02-13 07:30") == at("2026-02-13 09:00")
    assert call("2026-02-13 12:00") == at("2026-02-13 12:00")
    assert call("2026-02-13 20:00") == at("2026-02-14 09:00")  # window end is exclusive
    assert call("2026-02-16 10:00") == at("2026-02-16 10:00")  # any_day: holidays too
    assert call("2026-02-13 12:00", attempts_made=1, last_attempt_at=at("2026-02-13 11:30")) == at(
        "2026-02-13 12:30"
    )
    assert call("2026-02-13 19:30", attempts_made=2, last_attempt_at=at("2026-02-13 19:20")) == at(
        "2026-02-14 09:00"
    )
    assert call("2026-02-13 12:00", attempts_made=3) is None
    working_only = policy_with(callback={**RAW_POLICY["defaults"]["callback"], "call_days": "working_days"})
    assert working_only.defaults.callback.call_days is CallDays.WORKING_DAYS
    assert call("2026-02-15 10:00", policy=working_only) == at("2026-02-24 09:00")
    assert call("2026-02-13 21:00", policy=working_only) == at("2026-02-14 09:00")  # 调休 Saturday


# ---------------------------------------------------------------------------------------------------
# Overdue and circular (通报)
# ---------------------------------------------------------------------------------------------------


def test_overdue_working_days_and_circular() -> None:
    due_at = datetime(2026, 9, 30, 23, 59, 59, tzinfo=TZ)
    assert overdue_working_days(due_at, at("2026-09-30 12:00"), CAL) == 0
    assert overdue_working_days(due_at, at("2026-10-05 12:00"), CAL) == 0  # holiday: no working day yet
    assert overdue_working_days(due_at, at("2026-10-08 00:00"), CAL) == 1
    assert overdue_working_days(due_at, at("2026-10-10 12:00"), CAL) == 3  # Sat 10 Oct is a working day
    # working days after the due date: 8, 9, 10, 12, 13 (five), then 14
    assert not is_circular(due_at, datetime(2026, 10, 13, 23, 59, 59, tzinfo=TZ), calendar=CAL, policy=POLICY)
    assert is_circular(due_at, at("2026-10-14 00:00"), calendar=CAL, policy=POLICY)


# ---------------------------------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------------------------------

RECEIVED = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(FIRST_UNKNOWN + 1, 12, 31), timezones=st.just(TZ)
)
TYPES = st.sampled_from(list(TicketType))
URGENCIES = st.sampled_from(list(Urgency))


@given(RECEIVED, TYPES)
def test_working_day_deadlines_end_on_a_working_day_at_end_of_day(
    received: datetime, type_: TicketType
) -> None:
    d = compute_deadlines(received, type_, NORMAL, None, policy=POLICY, calendar=CAL)
    for due_at in (d.sign_due, d.reply_due):
        assert CAL.is_working_day(due_at.date())
        assert due_at.time() == time(23, 59, 59)
        assert due_at.date() > received.date()
    assert d.received_at <= d.sign_warn_at <= d.sign_due <= d.reply_due
    assert d.received_at <= d.reply_warn_at <= d.reply_due
    involved = CAL.is_range_known(received.date(), d.reply_due.date())
    assert d.provisional is not involved


@given(RECEIVED, RECEIVED, TYPES, URGENCIES)
def test_later_receipt_never_gives_an_earlier_deadline(
    a: datetime, b: datetime, type_: TicketType, urgency: Urgency
) -> None:
    a, b = sorted((a, b))
    da = compute_deadlines(a, type_, urgency, None, policy=POLICY, calendar=CAL)
    db = compute_deadlines(b, type_, urgency, None, policy=POLICY, calendar=CAL)
    assert da.sign_due <= db.sign_due
    assert da.reply_due <= db.reply_due
    assert da.reply_warn_at <= db.reply_warn_at


@given(RECEIVED, TYPES)
def test_warning_is_at_80_percent_of_the_working_time(received: datetime, type_: TicketType) -> None:
    d = compute_deadlines(received, type_, NORMAL, None, policy=POLICY, calendar=CAL)
    origin = CAL.start_of_day(CAL.next_working_day(received.date()))
    allowed = CAL.working_time_between(origin, d.reply_due)
    elapsed_at_warning = CAL.working_time_between(origin, d.reply_warn_at)
    assert allowed * 0.8 - timedelta(seconds=1) < elapsed_at_warning <= allowed * 0.8


@given(RECEIVED, st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=5))
def test_two_extensions_equal_one_of_their_sum(received: datetime, n: int, m: int) -> None:
    d = compute_deadlines(received, P, NORMAL, None, policy=POLICY, calendar=CAL)
    asked = d.start
    twice = apply_extension(
        apply_extension(d, asked, n, policy=POLICY, calendar=CAL), asked, m, policy=POLICY, calendar=CAL
    )
    once = apply_extension(d, asked, n + m, policy=POLICY, calendar=CAL)
    assert twice == once
