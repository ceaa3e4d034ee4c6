"""Report periods: default ranges, buckets, comparisons and bad ranges (no database)."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.reports.periods import CUSTOM, DAY, MONTH, QUARTER, WEEK, Bucket, Period, PeriodError

D = datetime.date
TODAY = D(2026, 12, 7)  # a Monday


def test_default_month_range_is_the_last_twelve_calendar_months():
    period = Period.of(MONTH, today=TODAY)
    assert (period.start, period.end) == (D(2026, 1, 1), D(2026, 12, 31))
    buckets = period.buckets()
    assert [b.label for b in buckets][:2] == ["2026-01", "2026-02"]
    assert len(buckets) == 12
    assert buckets[1] == Bucket(D(2026, 2, 1), D(2026, 2, 28), "2026-02", MONTH)


def test_default_day_range_is_the_last_thirty_days_up_to_today():
    period = Period.of(DAY, today=TODAY)
    assert (period.start, period.end) == (D(2026, 11, 8), TODAY)
    assert len(period.buckets()) == 30


def test_weeks_start_on_monday_and_carry_iso_labels():
    period = Period.of(WEEK, start=D(2026, 1, 1), end=D(2026, 1, 14), today=TODAY)
    # 1 January 2026 is a Thursday: its ISO week began on Monday 29 December 2025.
    assert period.start == D(2025, 12, 29)
    assert [(b.start, b.end, b.label) for b in period.buckets()] == [
        (D(2025, 12, 29), D(2026, 1, 4), "2026-W01"),
        (D(2026, 1, 5), D(2026, 1, 11), "2026-W02"),
        (D(2026, 1, 12), D(2026, 1, 18), "2026-W03"),
    ]


def test_quarters():
    period = Period.of(QUARTER, today=TODAY)
    assert [b.label for b in period.buckets()] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert period.buckets()[3].start == D(2026, 10, 1)


def test_a_custom_range_keeps_its_days_and_picks_its_bucket_size():
    short = Period.of(CUSTOM, start=D(2026, 3, 5), end=D(2026, 3, 20), today=TODAY)
    assert (short.granularity, short.start, short.end, short.custom) == (DAY, D(2026, 3, 5), D(2026, 3, 20), True)
    assert len(short.buckets()) == 16

    medium = Period.of(CUSTOM, start=D(2026, 3, 5), end=D(2026, 6, 30), today=TODAY)
    assert medium.granularity == WEEK
    assert medium.buckets()[0].start == D(2026, 3, 5)  # partial first week

    long = Period.of(CUSTOM, start=D(2026, 3, 5), end=D(2026, 12, 10), today=TODAY)
    assert long.granularity == MONTH
    first, last = long.buckets()[0], long.buckets()[-1]
    assert (first.start, first.end) == (D(2026, 3, 5), D(2026, 3, 31))
    assert (last.start, last.end) == (D(2026, 12, 1), D(2026, 12, 10))


def test_a_partial_bucket_compares_with_the_same_days_a_unit_and_a_year_earlier():
    march_from_5th = Bucket(D(2026, 3, 5), D(2026, 3, 31), "2026-03", MONTH)
    assert march_from_5th.previous() == (D(2026, 2, 5), D(2026, 2, 28))
    assert march_from_5th.year_ago() == (D(2025, 3, 5), D(2025, 3, 31))
    to_the_20th = Bucket(D(2026, 3, 1), D(2026, 3, 20), "2026-03", MONTH)
    assert to_the_20th.previous() == (D(2026, 2, 1), D(2026, 2, 20))


def test_whole_months_compare_with_whole_months():
    march = Bucket(D(2024, 3, 1), D(2024, 3, 31), "2024-03", MONTH)
    assert march.previous() == (D(2024, 2, 1), D(2024, 2, 29))
    leap_february = Bucket(D(2024, 2, 1), D(2024, 2, 29), "2024-02", MONTH)
    assert leap_february.year_ago() == (D(2023, 2, 1), D(2023, 2, 28))
    q1 = Bucket(D(2026, 1, 1), D(2026, 3, 31), "2026-Q1", QUARTER)
    assert q1.previous() == (D(2025, 10, 1), D(2025, 12, 31))


def test_weeks_compare_with_the_week_before_and_the_same_weekdays_52_weeks_earlier():
    week = Bucket(D(2026, 12, 7), D(2026, 12, 13), "2026-W50", WEEK)
    assert week.previous() == (D(2026, 11, 30), D(2026, 12, 6))
    assert week.year_ago() == (D(2025, 12, 8), D(2025, 12, 14))
    assert D(2025, 12, 8).weekday() == 0


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    period = Period.of(MONTH, start=D(2026, 7, 1), end=D(2026, 9, 30), today=TODAY)
    previous = period.previous()
    assert (previous.start, previous.end) == (D(2026, 4, 1), D(2026, 6, 30))
    custom = Period.of(CUSTOM, start=D(2026, 3, 5), end=D(2026, 3, 14), today=TODAY)
    assert (custom.previous().start, custom.previous().end) == (D(2026, 2, 23), D(2026, 3, 4))
    year_ago = period.year_ago()
    assert (year_ago.start, year_ago.end) == (D(2025, 7, 1), D(2025, 9, 30))


def test_local_midnight_bounds():
    period = Period.of(CUSTOM, start=D(2026, 12, 1), end=D(2026, 12, 1), today=TODAY)
    start, stop = period.aware_bounds()
    # Asia/Shanghai is UTC+8: the local day runs from 16:00 UTC the evening before.
    assert start.astimezone(datetime.UTC) == datetime.datetime(2026, 11, 30, 16, 0, tzinfo=datetime.UTC)
    assert stop - start == datetime.timedelta(days=1)


@pytest.mark.parametrize(
    "args, message",
    [
        ((CUSTOM, None, D(2026, 1, 1)), "需要填写开始和结束日期"),
        ((CUSTOM, D(2026, 2, 1), D(2026, 1, 1)), "开始日期不能晚于结束日期"),
        ((CUSTOM, D(2010, 1, 1), D(2026, 1, 1)), "不能超过 5 年"),
        ((DAY, D(2020, 1, 1), None), "最多 92 个周期"),
        ((MONTH, D(2027, 1, 1), D(2026, 1, 1)), "开始日期不能晚于结束日期"),
        (("hour", None, None), "统计周期应为"),
    ],
)
def test_bad_ranges_are_refused_with_a_message(args, message):
    period, start, end = args
    with pytest.raises(PeriodError) as error:
        Period.of(period, start=start, end=end, today=TODAY)
    assert message in str(error.value.args[0])


dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2040, 12, 31))


@given(
    granularity=st.sampled_from([DAY, WEEK, MONTH, QUARTER, CUSTOM]),
    start=dates,
    days=st.integers(min_value=0, max_value=700),
)
def test_buckets_cover_the_range_exactly_once(granularity, start, days):
    end = start + datetime.timedelta(days=days)
    try:
        period = Period.of(granularity, start=start, end=end, today=TODAY)
    except PeriodError:
        return  # too many buckets for this unit
    buckets = period.buckets()
    assert buckets[0].start == period.start and buckets[-1].end == period.end
    for before, after in zip(buckets, buckets[1:], strict=False):
        assert after.start == before.end + datetime.timedelta(days=1)
    for bucket in buckets:
        first, last = bucket.previous()
        assert last < bucket.start and (last - first) <= (bucket.end - bucket.start) + datetime.timedelta(days=3)
