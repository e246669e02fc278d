"""The working-day calendar: published State Council schedules, overrides, arithmetic properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import PACKAGED_CONFIG_DIR
from router.calendar import (
    CalendarDataError,
    CalendarOverrides,
    NaiveDatetimeError,
    WorkCalendar,
    load_overrides,
    to_utc,
)

TZ = ZoneInfo("Asia/Shanghai")
PACKAGE = WorkCalendar.from_package()
CONFIGURED = WorkCalendar.from_config(PACKAGED_CONFIG_DIR)
FIRST_UNKNOWN = max(PACKAGE.known_years) + 1


def _days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


# The State Council notices, copied by hand from the published text (国办发明电〔2024〕12号 for 2025,
# 国办发明电〔2025〕7号 for 2026): every day off (放假) and every make-up workday (上班).
PUBLISHED = {
    2025: {
        "off": [
            *_days("2025-01-01", "2025-01-01"),  # 元旦
            *_days("2025-01-28", "2025-02-04"),  # 春节, 8 days
            *_days("2025-04-04", "2025-04-06"),  # 清明节
            *_days("2025-05-01", "2025-05-05"),  # 劳动节
            *_days("2025-05-31", "2025-06-02"),  # 端午节
            *_days("2025-10-01", "2025-10-08"),  # 国庆节、中秋节, 8 days
        ],
        "work": [
            date(2025, 1, 26),
            date(2025, 2, 8),
            date(2025, 4, 27),
            date(2025, 9, 28),
            date(2025, 10, 11),
        ],
    },
    2026: {
        "off": [
            *_days("2026-01-01", "2026-01-03"),  # 元旦
            *_days("2026-02-15", "2026-02-23"),  # 春节, 9 days
            *_days("2026-04-04", "2026-04-06"),  # 清明节
            *_days("2026-05-01", "2026-05-05"),  # 劳动节
            *_days("2026-06-19", "2026-06-21"),  # 端午节
            *_days("2026-09-25", "2026-09-27"),  # 中秋节
            *_days("2026-10-01", "2026-10-07"),  # 国庆节
        ],
        "work": [
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10),
        ],
    },
}


# ---------------------------------------------------------------------------------------------------
# The package against the published schedule
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_every_day_of_the_year_matches_the_published_notice(year: int) -> None:
    off = set(PUBLISHED[year]["off"])
    work = set(PUBLISHED[year]["work"])
    assert all(d.weekday() >= 5 for d in work), "make-up workdays are weekend days"
    mismatches = []
    for day in _days(f"{year}-01-01", f"{year}-12-31"):
        expected = day in work or (day.weekday() < 5 and day not in off)
        for name, cal in (("package", PACKAGE), ("configured", CONFIGURED)):
            if cal.is_working_day(day) != expected:
                mismatches.append((name, day.isoformat(), day.strftime("%a"), expected))
    assert mismatches == []
    assert PACKAGE.is_year_known(year)


@pytest.mark.parametrize(
    "day", ["2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10", "2026-01-04", "2026-05-09"]
)
def test_2026_make_up_weekend_days_are_working_days(day: str) -> None:
    d = date.fromisoformat(day)
    assert d.weekday() >= 5
    assert CONFIGURED.is_working_day(d)


@pytest.mark.parametrize(
    "first,last", [("2026-02-15", "2026-02-23"), ("2026-10-01", "2026-10-07"), ("2025-10-01", "2025-10-08")]
)
def test_golden_weeks_are_off(first: str, last: str) -> None:
    assert not any(CONFIGURED.is_working_day(d) for d in _days(first, last))


def test_spring_festival_2026_arithmetic() -> None:
    fri = date(2026, 2, 13)
    assert CONFIGURED.next_working_day(fri) == date(2026, 2, 14)  # Saturday, 调休上班
    assert CONFIGURED.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)
    assert CONFIGURED.add_working_days(fri, 5) == date(2026, 2, 27)
    assert CONFIGURED.add_working_days(fri, 6) == date(2026, 2, 28)  # Saturday, 调休上班
    assert CONFIGURED.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6


# ---------------------------------------------------------------------------------------------------
# Years without data
# ---------------------------------------------------------------------------------------------------


def test_package_years_are_known_and_a_later_year_is_not() -> None:
    assert {2025, 2026} <= PACKAGE.known_years
    assert not PACKAGE.is_year_known(FIRST_UNKNOWN)
    assert PACKAGE.is_range_known(date(2025, 12, 1), date(2026, 1, 31))
    assert not PACKAGE.is_range_known(date(2026, 12, 1), date(FIRST_UNKNOWN, 1, 31))
    assert not PACKAGE.is_range_known(date(FIRST_UNKNOWN + 1, 1, 1), date(2026, 1, 1))  # either order


def test_unknown_year_has_weekends_off_and_no_make_up_days() -> None:
    year = FIRST_UNKNOWN + 5
    days = _days(f"{year}-01-01", f"{year}-12-31")
    assert [d for d in days if PACKAGE.is_working_day(d)] == [d for d in days if d.weekday() < 5]


def test_shipped_overrides_list_2027_statutory_days_but_leave_it_provisional_until_complete() -> None:
    overrides = load_overrides(PACKAGED_CONFIG_DIR / "calendar_overrides.yaml")
    if 2027 in PACKAGE.known_years or overrides.years.get(2027, None) is None:
        pytest.skip("2027 is in the package or no longer listed")
    entry = overrides.years[2027]
    for day in (date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8), date(2027, 10, 1), date(2027, 10, 3)):
        assert not CONFIGURED.is_working_day(day)
    assert CONFIGURED.is_year_known(2027) is entry.complete


def test_shipped_overrides_agree_with_the_package_for_years_it_knows() -> None:
    overrides = load_overrides(PACKAGED_CONFIG_DIR / "calendar_overrides.yaml")
    for year in set(overrides.years) & PACKAGE.known_years:
        for day in _days(f"{year}-01-01", f"{year}-12-31"):
            assert CONFIGURED.is_working_day(day) == PACKAGE.is_working_day(day), day


# ---------------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "calendar_overrides.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_override_completes_a_year_and_changes_the_version(tmp_path: Path) -> None:
    year = FIRST_UNKNOWN
    cal = WorkCalendar.from_config(
        _write(
            tmp_path,
            f"""
years:
  {year}:
    complete: true
    holidays:
      - {year}-01-01
      - {{from: {year}-02-05, to: {year}-02-11}}
    workdays: [{year}-01-02]
""",
        )
    )
    assert cal.is_year_known(year)
    assert not cal.is_working_day(date(year, 2, 8))
    assert cal.is_working_day(date(year, 1, 2)) is True
    assert cal.version != PACKAGE.version
    # the same data gives the same version: the service can compare versions across restarts
    assert cal.version == WorkCalendar.from_config(tmp_path).version


def test_incomplete_override_counts_holidays_but_stays_unknown(tmp_path: Path) -> None:
    year = FIRST_UNKNOWN
    weekday = next(d for d in _days(f"{year}-10-01", f"{year}-10-07") if d.weekday() < 5)
    cal = WorkCalendar.from_config(_write(tmp_path, f"years:\n  {year}:\n    holidays: [{weekday}]\n"))
    assert not cal.is_year_known(year)
    assert not cal.is_working_day(weekday)
    assert PACKAGE.is_working_day(weekday)


def test_operator_wins_over_the_package() -> None:
    cal = PACKAGE.with_overrides(
        CalendarOverrides.model_validate(
            {"years": {2026: {"holidays": ["2026-02-24"], "workdays": ["2026-02-22"]}}}
        )
    )
    assert not cal.is_working_day(date(2026, 2, 24))
    assert cal.is_working_day(date(2026, 2, 22))
    assert cal.version != PACKAGE.version


@pytest.mark.parametrize(
    "text,needle",
    [
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-01]\n", "both as a holiday"),
        ("years:\n  2027:\n    holidays: [2029-01-01]\n", "not in 2027"),
        ("years:\n  2027:\n    holidays: [{from: 2027-02-10, to: 2027-02-01}]\n", "before it starts"),
        ("years:\n  2027:\n    complete: yes please\n", "complete"),
        ("years:\n  2027:\n    holyday: [2027-01-01]\n", "holyday"),
        ("years: [\n", "not valid YAML"),
        ("- 2027\n", "expected a mapping"),
    ],
)
def test_bad_override_files_fail_with_a_clear_message(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(CalendarDataError, match=needle) as info:
        WorkCalendar.from_config(_write(tmp_path, text))
    assert "calendar_overrides.yaml" in str(info.value)


def test_missing_override_file_means_package_only(tmp_path: Path) -> None:
    assert WorkCalendar.from_config(tmp_path).version == PACKAGE.version


def test_adjacent_december_make_up_day_is_accepted() -> None:
    # a notice may put a make-up day on 31 December of the previous year (it happened for 2006)
    overrides = CalendarOverrides.model_validate({"years": {2006: {"workdays": ["2005-12-31"]}}})
    assert PACKAGE.with_overrides(overrides).is_working_day(date(2005, 12, 31))


# ---------------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(NaiveDatetimeError):
        CONFIGURED.local(datetime(2026, 2, 13, 14, 0))
    with pytest.raises(NaiveDatetimeError):
        CONFIGURED.working_time_between(datetime(2026, 2, 13), datetime(2026, 2, 14, tzinfo=TZ))


def test_is_working_day_refuses_datetimes() -> None:
    with pytest.raises(TypeError):
        CONFIGURED.is_working_day(datetime(2026, 2, 14, 1, tzinfo=UTC))


def test_working_time_counts_only_working_days() -> None:
    fri_noon = datetime(2026, 2, 13, 12, tzinfo=TZ)
    tue_noon = datetime(2026, 2, 24, 12, tzinfo=TZ)
    # Fri 12:00–24:00, all of Sat 14 (make-up workday), nothing 15–23, Tue 00:00–12:00
    assert CONFIGURED.working_time_between(fri_noon, tue_noon) == timedelta(hours=12 + 24 + 12)
    assert CONFIGURED.add_working_time(fri_noon, timedelta(hours=37)) == datetime(2026, 2, 24, 1, tzinfo=TZ)
    # an instant given in UTC means the same local day
    assert CONFIGURED.working_seconds_between(to_utc(fri_noon), to_utc(tue_noon)) == 48 * 3600


# ---------------------------------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2004, 1, 1), max_value=date(FIRST_UNKNOWN + 2, 12, 31))
COUNTS = st.integers(min_value=0, max_value=40)
INSTANTS = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(FIRST_UNKNOWN + 1, 12, 31), timezones=st.just(TZ)
)


@given(DAYS, st.integers(min_value=1, max_value=40))
def test_a_deadline_never_lands_on_a_non_working_day(day: date, n: int) -> None:
    result = CONFIGURED.add_working_days(day, n)
    assert result > day
    assert CONFIGURED.is_working_day(result)
    assert CONFIGURED.working_days_between(day, result) == n


@given(DAYS, COUNTS, COUNTS)
def test_adding_n_then_m_equals_adding_n_plus_m(day: date, n: int, m: int) -> None:
    assert CONFIGURED.add_working_days(CONFIGURED.add_working_days(day, n), m) == CONFIGURED.add_working_days(
        day, n + m
    )


@given(DAYS, DAYS, COUNTS)
def test_add_working_days_is_monotonic_in_the_start(a: date, b: date, n: int) -> None:
    a, b = sorted((a, b))
    assert CONFIGURED.add_working_days(a, n) <= CONFIGURED.add_working_days(b, n)


@given(DAYS, COUNTS, COUNTS)
def test_add_working_days_is_strictly_monotonic_in_n(day: date, n: int, m: int) -> None:
    n, m = sorted((n, m))
    if n < m:
        assert CONFIGURED.add_working_days(day, n) < CONFIGURED.add_working_days(day, m)


@given(DAYS)
def test_next_working_day_skips_exactly_the_days_off(day: date) -> None:
    nxt = CONFIGURED.next_working_day(day)
    between = [day + timedelta(days=i) for i in range(1, (nxt - day).days)]
    assert not any(CONFIGURED.is_working_day(d) for d in between)


@given(INSTANTS, INSTANTS, INSTANTS)
def test_working_time_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert CONFIGURED.working_time_between(a, b) + CONFIGURED.working_time_between(
        b, c
    ) == CONFIGURED.working_time_between(a, c)


@given(INSTANTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=15)))
def test_add_working_time_inverts_working_time_between(start: datetime, amount: timedelta) -> None:
    end = CONFIGURED.add_working_time(start, amount)
    assert end >= start
    assert CONFIGURED.working_time_between(start, end) == amount


@given(st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2100, 12, 31)))
def test_local_time_round_trips_through_utc(naive_local: datetime) -> None:
    # Asia/Shanghai has kept UTC+8 without DST since 1991: every wall time exists exactly once
    aware = CONFIGURED.at(naive_local.date(), naive_local.time())
    stored = to_utc(aware)
    assert stored.utcoffset() == timedelta(0)
    back = CONFIGURED.local(stored)
    assert back.replace(tzinfo=None) == naive_local
    assert back.utcoffset() == timedelta(hours=8)
    assert back.isoformat().endswith("+08:00")


@given(DAYS)
def test_start_of_day_is_local_midnight(day: date) -> None:
    midnight = CONFIGURED.start_of_day(day)
    assert CONFIGURED.local_date(midnight) == day
    assert midnight.time() == time(0)
