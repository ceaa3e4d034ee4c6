"""Report periods: a date range in the company's calendar (Asia/Shanghai) cut into buckets of a
day, an ISO week (Monday first), a month or a quarter.

    period = Period.of("month", today=date(2026, 12, 7))      # the last 12 months, by month
    period.buckets()     # [Bucket(2026-01-01, 2026-01-31, "2026-01"), …]
    period.previous()    # the 12 months before
    period.year_ago()    # the same range one year earlier
    period.aware_bounds()  # [local midnight of start, local midnight after end) for datetime columns

A custom range keeps its exact first and last day; its buckets are days up to 62 days, weeks up to
183, months beyond, and the first and last bucket may be partial. A bucket's comparisons
(``Bucket.previous``, ``Bucket.year_ago``) are the same dates one unit or one year earlier, so a
partial bucket compares like with like (5–31 March with 5–28 February).
"""

import calendar
import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DAY, WEEK, MONTH, QUARTER, CUSTOM = "day", "week", "month", "quarter", "custom"
GRANULARITIES = (DAY, WEEK, MONTH, QUARTER)
PERIOD_CHOICES = [
    (DAY, _("按日")),
    (WEEK, _("按周")),
    (MONTH, _("按月")),
    (QUARTER, _("按季度")),
    (CUSTOM, _("自定义")),
]
# How many buckets a default range holds, and the most a range may hold.
DEFAULT_BUCKETS = {DAY: 30, WEEK: 12, MONTH: 12, QUARTER: 4}
MAX_BUCKETS = {DAY: 92, WEEK: 106, MONTH: 60, QUARTER: 40}
MAX_CUSTOM_DAYS = 366 * 5


class PeriodError(ValueError):
    """A range the reports refuse; the message is for the user."""


def add_months(day, months):
    """``day`` moved by ``months`` calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def unit_start(day, granularity):
    if granularity == DAY:
        return day
    if granularity == WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if granularity == MONTH:
        return day.replace(day=1)
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def unit_shift(day, granularity, count=1):
    """``day`` moved ``count`` units (negative: back)."""
    if granularity == DAY:
        return day + datetime.timedelta(days=count)
    if granularity == WEEK:
        return day + datetime.timedelta(weeks=count)
    return add_months(day, count * (3 if granularity == QUARTER else 1))


def unit_end(day, granularity):
    return unit_shift(unit_start(day, granularity), granularity) - datetime.timedelta(days=1)


def unit_label(day, granularity):
    if granularity == DAY:
        return day.isoformat()
    if granularity == WEEK:
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == MONTH:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def year_back(day):
    return add_months(day, -12)


@dataclass(frozen=True)
class Bucket:
    start: datetime.date
    end: datetime.date  # inclusive
    label: str
    granularity: str

    def previous(self):
        """The same dates one unit earlier (for a week: seven days; a month: same day numbers)."""
        if self.granularity in (DAY, WEEK):
            return (unit_shift(self.start, self.granularity, -1), unit_shift(self.end, self.granularity, -1))
        start = unit_shift(self.start, self.granularity, -1)
        # A whole month's end maps to the whole previous month's end (31 March → 28 February).
        if self.end == unit_end(self.end, self.granularity):
            last_unit = unit_shift(unit_start(self.end, self.granularity), self.granularity, -1)
            return start, unit_end(last_unit, self.granularity)
        return start, unit_shift(self.end, self.granularity, -1)

    def year_ago(self):
        if self.granularity == WEEK:  # the same ISO weekdays 52 weeks earlier
            return self.start - datetime.timedelta(weeks=52), self.end - datetime.timedelta(weeks=52)
        end = year_back(self.end)
        if self.granularity in (MONTH, QUARTER) and self.end == unit_end(self.end, self.granularity):
            end = unit_end(end, self.granularity)  # 29 Feb 2024 ↔ 28 Feb 2023 both whole months
        return year_back(self.start), end


@dataclass(frozen=True)
class Period:
    granularity: str  # the bucket unit
    start: datetime.date
    end: datetime.date  # inclusive
    custom: bool = False

    @classmethod
    def of(cls, period=MONTH, *, start=None, end=None, today=None):
        """The period a report is asked for: ``period`` one of PERIOD_CHOICES' keys; for
        day/week/month/quarter an optional start/end is widened to whole units (default: the last
        DEFAULT_BUCKETS units up to today's); a custom range needs both and keeps them."""
        today = today or timezone.localdate()
        if period == CUSTOM:
            if not start or not end:
                raise PeriodError(_("自定义时间段需要填写开始和结束日期。"))
            if start > end:
                raise PeriodError(_("开始日期不能晚于结束日期。"))
            days = (end - start).days + 1
            if days > MAX_CUSTOM_DAYS:
                raise PeriodError(_("自定义时间段不能超过 5 年。"))
            granularity = DAY if days <= 62 else WEEK if days <= 183 else MONTH
            return cls(granularity, start, end, custom=True)
        if period not in GRANULARITIES:
            raise PeriodError(_("统计周期应为日、周、月、季度或自定义。"))
        last = unit_end(end or today, period)
        if start:
            first = unit_start(start, period)
        else:
            first = unit_shift(unit_start(last, period), period, 1 - DEFAULT_BUCKETS[period])
        if first > last:
            raise PeriodError(_("开始日期不能晚于结束日期。"))
        result = cls(period, first, last)
        if len(result.buckets()) > MAX_BUCKETS[period]:
            raise PeriodError(
                _("按%(unit)s统计时最多 %(count)d 个周期，请缩短时间段或换用更大的统计周期。")
                % {"unit": dict(PERIOD_CHOICES)[period].replace("按", ""), "count": MAX_BUCKETS[period]}
            )
        return result

    @property
    def days(self):
        return (self.end - self.start).days + 1

    def buckets(self):
        """The range cut at unit boundaries, in order; the first and last may be partial (custom)."""
        buckets, day = [], self.start
        while day <= self.end:
            end = min(unit_end(day, self.granularity), self.end)
            buckets.append(Bucket(day, end, unit_label(day, self.granularity), self.granularity))
            day = end + datetime.timedelta(days=1)
        return buckets

    def previous(self):
        """The range just before, of the same length: as many whole units back, or for a custom
        range as many days back."""
        if self.custom:
            length = datetime.timedelta(days=self.days)
            return Period(self.granularity, self.start - length, self.end - length, custom=True)
        count = len(self.buckets())
        start = unit_shift(self.start, self.granularity, -count)
        return Period(self.granularity, start, self.start - datetime.timedelta(days=1))

    def year_ago(self):
        if self.granularity == WEEK and not self.custom:  # the same ISO weeks a year earlier
            weeks = datetime.timedelta(weeks=52)
            return Period(WEEK, self.start - weeks, self.end - weeks)
        end = year_back(self.end)
        if not self.custom:
            end = unit_end(end, self.granularity)
        return Period(self.granularity, year_back(self.start), end, custom=self.custom)

    def aware_bounds(self):
        """[local midnight starting ``start``, local midnight after ``end``): the filter for a
        datetime column, so a row at 00:00 Asia/Shanghai falls in the day it starts."""
        return local_midnight(self.start), local_midnight(self.end + datetime.timedelta(days=1))

    def as_dict(self):
        return {
            "period": CUSTOM if self.custom else self.granularity,
            "granularity": self.granularity,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def local_midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def span(*periods):
    """(first day, last day) covering every given period or (start, end) pair."""
    starts, ends = [], []
    for item in periods:
        start, end = (item.start, item.end) if isinstance(item, Period) else item
        starts.append(start)
        ends.append(end)
    return min(starts), max(ends)
