"""跟进分析: follow-ups per period bucket and per person (跟进人, the follow-up's author), each by
type, and how many of the viewer's customers have gone 7 / 15 / 30 days without a follow-up.

- Follow-ups: those the viewer may see (``FollowUp.objects.visible_to`` — the customer's scope) whose
  ``occurred_at`` falls in the period, from 00:00 Asia/Shanghai of its first day to 00:00 after
  its last; bucketed by the company calendar. Here the department and owner filters narrow the
  *author*: the person filter picks whose follow-ups, the department filter the authors'
  department (with the departments below it). Follow-ups without a recorded author count under
  "未记录".
- Not followed up (未跟进客户, a snapshot as of now, not bound to the period): the live customers
  the viewer may see (``Customer.objects.visible_to``), narrowed by the department / owner filters
  on the *customer's* department and owner, counted by the customer list's own rule
  (``customers.selectors.not_followed_up_q``): the customer's last follow-up time
  (``Customer.last_follow_up_at``, kept by every follow-up) is N days or more ago — or, never
  followed up, the customer was created N days or more ago (a customer added yesterday is not
  "30 days without a follow-up" yet). Each count links to the customer list with
  ``no_follow_up_days=N`` and the same department / owner filters, which shows exactly those
  customers.

Bounded queries: one GROUP BY per bucket, one per person, one for the period's totals, and one
statement counting the customers and each threshold.
"""

import datetime

from django import forms
from django.db import connection
from django.db.models import BooleanField, DateField, ExpressionWrapper
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activities.models import FollowUp, FollowUpType
from analytics.reports.base import INT, PERCENT, TEXT, Column, Figure, Report, Result, Table, in_period, narrow, ratio
from analytics.reports.distribution import customer_list_url, report_department_ids, visible_customers
from analytics.reports.periods import DAY, unit_start
from customers.selectors import customer_scope_arms, disjoint, not_followed_up_q
from staff.models import User

STALE_DAYS = (7, 15, 30)
PERIOD, PERSON = "period", "person"
BY_CHOICES = [(PERIOD, _("按周期")), (PERSON, _("按跟进人"))]
TYPES = list(FollowUpType.choices)


def visible_follow_ups(*, user, params, scope=None):
    """The follow-ups the viewer may see (``scope``: one of the scope's arms, see
    ``follow_up_figures``), narrowed by author (owner filter) and the author's department
    (department filter)."""
    follow_ups = FollowUp.objects.visible_to(user) if scope is None else FollowUp.objects.filter(scope)
    return narrow(follow_ups, params, owner="created_by", department="created_by__department")


FIGURES_SQL = """
    SELECT GROUPING(report_unit), GROUPING(created_by_id), report_unit, created_by_id,
           COUNT(DISTINCT created_by_id), COUNT(*), COUNT(DISTINCT customer_id), {types}
    FROM ({rows}) AS follow_up
    GROUP BY GROUPING SETS ((report_unit), (created_by_id), ())"""
MEASURES = ("persons", "total", "customers", *(f"type_{value}" for value, _label in TYPES))


def follow_up_figures(*, user, params):
    """(per bucket start, per person, totals) of the follow-ups in the period, in one statement:
    the rows of each arm of the viewer's scope (``FollowUp.objects.scope_arms``: the department's,
    the owner's, the team members' customers'), each read from its covering index alone, their
    UNION (no row twice: exactly ``visible_to``), then GROUP BY GROUPING SETS (bucket, person,
    all). At 2,000,000 follow-ups a department's year of them (55,000) is ~3 MB of index, where
    ``visible_to``'s OR read them from ~22,000 heap pages three times (see activities 0002)."""
    period = params.period
    unit = Trunc("occurred_at", period.granularity, output_field=DateField())
    arms = [
        in_period(visible_follow_ups(user=user, params=params, scope=arm), "occurred_at", period, is_datetime=True)
        .annotate(report_unit=unit)
        .order_by()
        .values("pk", "customer_id", "created_by_id", "type", "report_unit")
        for arm in FollowUp.objects.scope_arms(user)
    ]
    rows = arms[0].union(*arms[1:]) if len(arms) > 1 else arms[0]
    rows_sql, rows_params = rows.query.sql_with_params()
    types = ", ".join("COUNT(*) FILTER (WHERE type = %s)" for _value in TYPES)
    with connection.cursor() as cursor:
        cursor.execute(
            FIGURES_SQL.format(rows=rows_sql, types=types), [*(value for value, _label in TYPES), *rows_params]
        )
        found = cursor.fetchall()
    per_unit, per_person, totals = {}, [], dict.fromkeys(MEASURES, 0)
    for not_by_unit, not_by_person, report_unit, created_by, *values in found:  # GROUPING(x): 1 = not by x
        figures = dict(zip(MEASURES, values, strict=True))
        if not not_by_unit:
            per_unit[report_unit.date() if isinstance(report_unit, datetime.datetime) else report_unit] = figures
        elif not not_by_person:
            del figures["persons"]
            per_person.append({"created_by": created_by, **figures})
        else:
            totals = figures
    names = User.objects.filter(pk__in=[row["created_by"] for row in per_person]).values_list(
        "pk", "display_name", "username"
    )
    names = {pk: (display_name, username) for pk, display_name, username in names}
    for row in per_person:
        row["created_by__display_name"], row["created_by__username"] = names.get(row["created_by"], ("", ""))
    return per_unit, per_person, totals


STALE_SQL = "SELECT COUNT(*), {stale} FROM ({rows}) AS customer"


def not_followed_up_counts(*, user, params):
    """{"customers": visible customers, N: of them not followed up for N days, for STALE_DAYS}:
    one statement. The customer list's rule (``not_followed_up_q``) as a flag per threshold on
    the visible customers, counted arm by arm of the scope (``customers.selectors.disjoint``: each
    arm without the rows of the arms before it, UNION ALL), each arm an index-only scan of its
    visible-customer index — where the scope's OR read every visible customer's heap page."""
    now = timezone.now()
    flags = {
        f"stale_{days}": ExpressionWrapper(not_followed_up_q(days, now=now), output_field=BooleanField())
        for days in STALE_DAYS
    }
    customers = visible_customers(user=user, params=params).order_by()
    arms = customer_scope_arms(user=user)
    parts = [customers] if not arms or len(arms) < 2 else [customers.filter(part) for part in disjoint(arms)]
    parts = [part.annotate(**flags).values(*flags) for part in parts]
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    rows_sql, rows_params = rows.query.sql_with_params()
    stale = ", ".join(f"COUNT(*) FILTER (WHERE stale_{days})" for days in STALE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(STALE_SQL.format(stale=stale, rows=rows_sql), rows_params)
        total, *counts = cursor.fetchone()
    return {"customers": total, **dict(zip(STALE_DAYS, counts, strict=True))}


def _type_columns():
    return [Column(f"type_{value}", label, INT) for value, label in TYPES]


class FollowUpAnalysis(Report):
    key = "follow_ups"
    title = _("跟进分析")
    description = _("各周期、各跟进人的跟进次数（按跟进方式），以及 7 / 15 / 30 天未跟进的客户数。")
    permission = "activities.view_followup"
    default_period = DAY

    def extra_fields(self):
        return {
            "by": forms.ChoiceField(
                label=_("表格"),
                choices=BY_CHOICES,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        by = params.cleaned_data.get("by") or PERIOD
        per_unit, per_person, totals = follow_up_figures(user=user, params=params)

        empty = {"total": 0, "customers": 0, "persons": 0, **{f"type_{value}": 0 for value, _label in TYPES}}
        period_rows = []
        for bucket in params.period.buckets():
            figures = per_unit.get(unit_start(bucket.start, bucket.granularity), empty)
            period_rows.append({"period": bucket.label, **{key: figures[key] for key in empty}})
        period_table = Table(
            [
                Column("period", _("周期"), TEXT),
                *_type_columns(),
                Column("total", _("跟进次数"), INT),
                Column("persons", _("跟进人数"), INT),
                Column("customers", _("跟进客户数"), INT),
            ],
            period_rows,
            title=_("各周期跟进次数"),
        )

        person_rows = [
            {
                "person": row["created_by__display_name"] or row["created_by__username"] or _("未记录"),
                **{key: row[key] for key in empty if key != "persons"},
            }
            for row in per_person
        ]
        person_rows.sort(key=lambda row: (-row["total"], str(row["person"])))
        person_table = Table(
            [
                Column("person", _("跟进人"), TEXT),
                *_type_columns(),
                Column("total", _("跟进次数"), INT),
                Column("customers", _("跟进客户数"), INT),
            ],
            person_rows,
            title=_("各跟进人跟进次数"),
        )

        stale = not_followed_up_counts(user=user, params=params)
        department_ids = report_department_ids(params)
        stale_rows = [
            {
                "days": _("%(days)d 天以上未跟进") % {"days": days},
                "customers": stale[days],
                "share": ratio(stale[days], stale["customers"]),
                "_links": {
                    "customers": customer_list_url(params, department_ids=department_ids, no_follow_up_days=days)
                },
            }
            for days in STALE_DAYS
        ]
        stale_table = Table(
            [
                Column("days", _("未跟进"), TEXT),
                Column("customers", _("客户数"), INT),
                Column("share", _("占比"), PERCENT),
            ],
            stale_rows,
            title=_("未跟进客户（当前）"),
        )

        summary = [
            Figure("follow_ups", _("跟进次数"), totals["total"], INT),
            Figure("persons", _("跟进人数"), totals["persons"], INT),
            Figure("customers_followed", _("跟进客户数"), totals["customers"], INT),
            *[
                Figure(f"stale_{days}", _("%(days)d 天未跟进客户") % {"days": days}, stale[days], INT)
                for days in STALE_DAYS
            ],
        ]
        main, other = (person_table, period_table) if by == PERSON else (period_table, person_table)
        return Result(
            table=main,
            summary=summary,
            chart=self.chart(main, by),
            extra_tables=[other, stale_table],
        )

    def chart(self, table, by):
        label_key = "person" if by == PERSON else "period"
        labels = [str(row[label_key]) for row in table.rows]
        series = [
            {
                "name": str(label),
                "type": "bar",
                "stack": "types",
                "data": [row[f"type_{value}"] for row in table.rows],
            }
            for value, label in TYPES
        ]
        category = {"type": "category", "data": labels}
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0, "type": "scroll"},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "series": series,
        }
        if by == PERSON:  # names read better down the side
            chart.update(xAxis={"type": "value"}, yAxis={**category, "inverse": True})
        else:
            chart.update(xAxis=category, yAxis={"type": "value"})
        return chart


FOLLOW_UP_ANALYSIS = FollowUpAnalysis()
