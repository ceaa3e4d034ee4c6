"""The shape every report shares, so that one page view, one API view and one .xlsx download
serve them all.

A report is a ``Report`` subclass registered in ``analytics.reports.registry``. Its ``run`` reads
through the owning models' ``visible_to(user)`` (never around it), narrows by the common filters
with ``narrow``, aggregates in SQL, and returns a ``Result``:

- ``table``: the figures (columns with a kind, rows of raw values) — the page's table, the API's
  rows and the .xlsx sheet are this one table;
- ``summary``: a few headline figures;
- ``chart``: an Apache ECharts option drawn beside the table, made of the same numbers.

``ReportParams`` validates the common query parameters — ``period`` (day / week / month / quarter /
custom), ``start`` / ``end``, ``department`` (with the departments below it), ``owner`` (one or
more) — plus a report's own ``extra_fields``; bad input is a DomainError in the user's language.
"""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.db.models import DateField
from django.db.models.functions import Trunc
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.reports.periods import CUSTOM, MONTH, PERIOD_CHOICES, Period, PeriodError, local_midnight
from crm.errors import DomainError
from staff.models import Department, User

CENT = Decimal("0.01")
RATE = Decimal("0.0001")

TEXT, INT, MONEY, PERCENT, NUMBER = "text", "int", "money", "percent", "number"


def money(value):
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part, whole):
    """part / whole to four places (0.1234 = 12.34%), None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_UP)


def growth(current, before):
    """The change from ``before`` to ``current`` as a ratio (None when before is 0)."""
    if not before:
        return None
    return ratio(Decimal(current) - Decimal(before), before)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = TEXT


@dataclass
class Table:
    columns: list
    rows: list  # dicts keyed by column key, raw values (Decimal, int, str, None)
    title: str = ""


@dataclass
class Figure:
    key: str
    label: str
    value: object
    kind: str = MONEY


@dataclass
class Result:
    table: Table
    summary: list = field(default_factory=list)
    chart: dict = field(default_factory=dict)
    # Tables shown on the page under the main one (API: ``extra_tables``; not in the .xlsx).
    extra_tables: list = field(default_factory=list)


# --- values for JSON and for the page ------------------------------------------------------------


def json_value(value, kind):
    """A cell for the API: money and rates as strings (exact), counts as numbers, dates ISO."""
    if value is None:
        return None
    if kind == MONEY:
        return str(money(value))
    if kind in (PERCENT, NUMBER):
        return str(value)
    if kind == INT:
        return int(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def display_value(value, kind):
    """A cell for the page: ¥ amounts with thousands separators, rates as percentages, — for none."""
    if value is None or value == "":
        return "—"
    if kind == MONEY:
        return floatformat(money(value), "2g")
    if kind == PERCENT:
        return f"{floatformat(Decimal(value) * 100, '1g')}%"
    if kind == NUMBER:
        return floatformat(value, "1g")
    if kind == INT:
        return floatformat(value, "g")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def table_json(table):
    return {
        "title": str(table.title),
        "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind} for c in table.columns],
        "rows": [{c.key: json_value(row.get(c.key), c.kind) for c in table.columns} for row in table.rows],
    }


def result_json(report, params, result):
    return {
        **table_json(result.table),
        "report": report.key,
        "title": str(report.title),
        **({"period": params.period.as_dict()} if params.period else {}),
        "summary": [
            {"key": f.key, "label": str(f.label), "kind": f.kind, "value": json_value(f.value, f.kind)}
            for f in result.summary
        ],
        "extra_tables": [table_json(table) for table in result.extra_tables],
        "chart": result.chart,
    }


# --- the parameters -------------------------------------------------------------------------------


def _without_blanks(data):
    """The query without empty values: a page's form sends ``owner=`` for "全部"."""
    if hasattr(data, "getlist"):
        cleaned = data.copy()
        for key in list(cleaned.keys()):
            values = [value for value in cleaned.getlist(key) if value != ""]
            if values:
                cleaned.setlist(key, values)
            else:
                del cleaned[key]
        return cleaned
    return {key: value for key, value in data.items() if value not in ("", None, [])}


class ReportParams(forms.Form):
    """The common filters. After ``is_valid()``: ``period`` (a Period, or None for a report
    without one), ``department`` and ``owners`` (a list) in ``cleaned_data`` and as attributes."""

    period = forms.ChoiceField(label=_("统计周期"), choices=PERIOD_CHOICES, required=False)
    start = forms.DateField(label=_("开始日期"), required=False)
    end = forms.DateField(label=_("结束日期"), required=False)
    department = forms.ModelChoiceField(label=_("部门（含下级）"), queryset=Department.objects.all(), required=False)
    owner = forms.ModelMultipleChoiceField(label=_("负责人"), queryset=User.objects.all(), required=False)

    def __init__(self, data, *, report, today=None):
        super().__init__(_without_blanks(data))
        self.report = report
        self.today = today or timezone.localdate()
        for name, form_field in report.extra_fields().items():
            self.fields[name] = form_field
        self.period = None
        self.department = None
        self.owners = []
        self._department_ids = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.department = cleaned.get("department")
        self.owners = list(cleaned.get("owner") or [])
        if self.report.uses_period:
            try:
                self.period = Period.of(
                    cleaned.get("period") or self.report.default_period,
                    start=cleaned.get("start"),
                    end=cleaned.get("end"),
                    today=self.today,
                )
            except PeriodError as error:
                raise forms.ValidationError(str(error.args[0])) from None
        return cleaned

    def error_dict(self):
        return {name: [str(message) for message in messages] for name, messages in self.errors.items()}


def parse_params(report, data, *, today=None):
    """Validated ReportParams or a DomainError (400) naming the bad fields."""
    params = ReportParams(data, report=report, today=today)
    if not params.is_valid():
        raise DomainError(_("报表筛选条件有误。"), fields=params.error_dict())
    return params


def department_ids(params):
    """The ids of the chosen department and the ones below it, read once per request: a literal
    list, because with the subtree as a subquery PostgreSQL guessed one department and planned
    the payments through every contract of it (1.4 s against 0.2 s)."""
    if params._department_ids is None:
        chosen = params.department
        if chosen.path:
            subtree = Department.objects.filter(path__startswith=chosen.path).values_list("pk", flat=True)
            params._department_ids = sorted(subtree)
        else:
            params._department_ids = [chosen.pk]
    return params._department_ids


def narrow(queryset, params, *, owner="owner", department="department"):
    """``queryset`` narrowed by the department (and the ones below it) and owner filters, on the
    given field paths (e.g. ``contract__owner``). Scope is the caller's: this only narrows."""
    if params.department is not None:
        queryset = queryset.filter(**{f"{department}_id__in": department_ids(params)})
    if params.owners:
        queryset = queryset.filter(**{f"{owner}_id__in": [user.pk for user in params.owners]})
    return queryset


def in_period(queryset, field_name, period, *, is_datetime=False):
    """Rows whose ``field_name`` falls in ``period`` (or a (first, last) date pair): dates
    inclusive; datetimes from local midnight of the first day to local midnight after the last."""
    first, last = (period.start, period.end) if isinstance(period, Period) else period
    if is_datetime:
        return queryset.filter(
            **{
                f"{field_name}__gte": local_midnight(first),
                f"{field_name}__lt": local_midnight(last + datetime.timedelta(days=1)),
            }
        )
    return queryset.filter(**{f"{field_name}__range": (first, last)})


def daily(queryset, field_name, measures, *, first, last, is_datetime=False):
    """{local date: {measure: value}} — one GROUP BY over the days in [first, last] (the calendar
    day in Asia/Shanghai for a datetime column). Reports add these per-day aggregates up into
    buckets and comparison ranges of any shape (``between``)."""
    day = Trunc(field_name, "day", output_field=DateField()) if is_datetime else Trunc(field_name, "day")
    rows = (
        in_period(queryset, field_name, (first, last), is_datetime=is_datetime)
        .annotate(report_day=day)
        .order_by()
        .values("report_day")
        .annotate(**measures)
    )
    return {row.pop("report_day"): row for row in rows}


def between(days, first, last, measure):
    """The sum of one measure of ``daily``'s result over [first, last]."""
    total = 0
    for day, values in days.items():
        if first <= day <= last:
            total += values[measure] or 0
    return total


class Report:
    """Subclass, set the attributes, implement ``run``; register in analytics.reports.registry."""

    key = ""
    title = ""
    description = ""
    #: A permission the viewer needs besides signing in (e.g. "contracts.view_contract").
    permission = None
    uses_period = True
    default_period = MONTH
    #: The file name of the .xlsx (without extension); the title when empty.
    filename = ""

    def extra_fields(self):
        """Form fields of this report's own parameters, by name."""
        return {}

    def run(self, *, user, params):  # pragma: no cover - the contract
        raise NotImplementedError

    def allowed(self, user):
        return user.is_authenticated and (self.permission is None or user.has_perm(self.permission))


__all__ = [
    "CUSTOM",
    "Column",
    "Figure",
    "Report",
    "ReportParams",
    "Result",
    "Table",
    "between",
    "daily",
    "display_value",
    "growth",
    "in_period",
    "json_value",
    "money",
    "narrow",
    "parse_params",
    "ratio",
    "result_json",
]
