"""业绩排行: staff (main table) and departments (extra table) ranked over the period by

- contract amount: sales contracts (approved or later) signed in the period, by the contract's
  owner and department;
- payment amount: confirmed payments dated in the period, by their contract's owner and
  department;
- new customers: customers created in the period (calendar days in Asia/Shanghai), by the
  customer's owner and department (never one in the recycle bin or a public pool);
- won deals: deals in a won stage whose ``won_at`` falls in the period (count and amount), by the
  deal's owner and department.

Each figure reads through its own model's ``visible_to(user)`` — a manager ranks only what they
can see — and the department / owner filters. A department's figures are those of the rows
filed under it (the row's department, as the data scope reads it), not of its sub-departments.
The ``by`` parameter picks the measure ranked on. Six queries: four GROUP BY (owner, department),
then the names of the people and departments.
"""

from django import forms
from django.db.models import Count, F, Sum
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import INT, MONEY, Column, Figure, Report, Result, Table, in_period, money, narrow
from analytics.reports.growth import new_customers
from analytics.reports.sales import confirmed_payments, sales_contracts
from opportunities.models import Opportunity, StageKind
from staff.models import Department
from staff.selectors import user_list

MEASURES = ("contract_amount", "payment_amount", "new_customers", "won_count", "won_amount")
BY_CHOICES = [
    ("contract_amount", _("合同金额")),
    ("payment_amount", _("回款金额")),
    ("new_customers", _("新增客户")),
    ("won_count", _("赢单数")),
    ("won_amount", _("赢单金额")),
]
UNASSIGNED = _("未分配")
CHART_TOP = 10


def won_deals(*, user, params):
    """The won deals the viewer may see, narrowed by the report filters."""
    return narrow(Opportunity.objects.visible_to(user).filter(stage__kind=StageKind.WON), params)


def _grouped(queryset, *, owner="owner", department="department"):
    return queryset.order_by().values(person=F(f"{owner}_id"), unit=F(f"{department}_id"))


def ranking_figures(*, user, params):
    """{(owner id, department id): {measure: value}} over the period — four GROUP BYs."""
    period = params.period
    queries = [
        _grouped(in_period(sales_contracts(user=user, params=params), "signed_date", period)).annotate(
            contract_count=Count("id"), contract_amount=Sum("total")
        ),
        _grouped(in_period(confirmed_payments(user=user, params=params), "date", period)).annotate(
            payment_amount=Sum("amount")
        ),
        _grouped(in_period(new_customers(user=user, params=params), "created_at", period, is_datetime=True)).annotate(
            new_customers=Count("id")
        ),
        _grouped(in_period(won_deals(user=user, params=params), "won_at", period, is_datetime=True)).annotate(
            won_count=Count("id"), won_amount=Sum("amount")
        ),
    ]
    figures = {}
    for query in queries:
        for row in query:
            figures.setdefault((row.pop("person"), row.pop("unit")), {}).update(row)
    return figures


def _zero():
    return {"contract_count": 0, "contract_amount": money(0), "payment_amount": money(0), "new_customers": 0,
            "won_count": 0, "won_amount": money(0)}  # fmt: skip


def _fold(figures, key_index):
    """The (owner, department) figures added up per owner (0) or per department (1)."""
    folded = {}
    for key, values in figures.items():
        target = folded.setdefault(key[key_index], _zero())
        for name, value in values.items():
            target[name] = target[name] + (value or 0)
    for target in folded.values():
        for name in ("contract_amount", "payment_amount", "won_amount"):
            target[name] = money(target[name])
    return folded


def _ranked(rows, by):
    rows.sort(key=lambda row: (-row[by], *(-row[name] for name in MEASURES if name != by), row["name"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _measure_columns():
    return [
        Column("contract_count", _("合同数"), INT),
        Column("contract_amount", _("合同金额"), MONEY),
        Column("payment_amount", _("回款金额"), MONEY),
        Column("new_customers", _("新增客户"), INT),
        Column("won_count", _("赢单数"), INT),
        Column("won_amount", _("赢单金额"), MONEY),
    ]


class PerformanceRanking(Report):
    key = "ranking"
    title = _("业绩排行")
    description = _("按合同金额、回款金额、新增客户、赢单对员工和部门排名（只统计你可见的数据）。")
    permission = "contracts.view_contract"

    def extra_fields(self):
        return {
            "by": forms.ChoiceField(
                label=_("排名依据"),
                choices=BY_CHOICES,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        by = params.cleaned_data.get("by") or "contract_amount"
        figures = ranking_figures(user=user, params=params)
        people, units = _fold(figures, 0), _fold(figures, 1)

        named = {
            person.pk: person
            for person in user_list()
            .filter(pk__in=[pk for pk in people if pk is not None])
            .select_related("department")
        }
        departments = dict(
            Department.objects.filter(pk__in=[pk for pk in units if pk is not None]).values_list("pk", "name")
        )
        staff_rows = []
        for pk, values in people.items():
            person = named.get(pk)
            staff_rows.append(
                {
                    "name": str(person) if person else str(UNASSIGNED),
                    "department": person.department.name if person and person.department else "",
                    **values,
                }
            )
        department_rows = [{"name": departments.get(pk) or str(UNASSIGNED), **values} for pk, values in units.items()]
        _ranked(staff_rows, by)
        _ranked(department_rows, by)

        columns = [
            Column("rank", _("排名"), INT),
            Column("name", _("员工")),
            Column("department", _("部门")),
            *_measure_columns(),
        ]
        department_table = Table(
            [Column("rank", _("排名"), INT), Column("name", _("部门")), *_measure_columns()],
            department_rows,
            title=_("部门排行"),
        )
        totals = _zero()
        for values in people.values():
            for name in totals:
                totals[name] += values[name]
        summary = [
            Figure("contract_amount", _("合同金额"), totals["contract_amount"]),
            Figure("payment_amount", _("回款金额"), totals["payment_amount"]),
            Figure("new_customers", _("新增客户"), totals["new_customers"], INT),
            Figure("won_count", _("赢单数"), totals["won_count"], INT),
            Figure("won_amount", _("赢单金额"), totals["won_amount"]),
        ]
        top = list(reversed(staff_rows[:CHART_TOP]))
        chart = {
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "data": [row["name"] for row in top]},
            "series": [{"name": str(dict(BY_CHOICES)[by]), "type": "bar", "data": [float(row[by]) for row in top]}],
        }
        return Result(table=Table(columns, staff_rows), summary=summary, chart=chart, extra_tables=[department_table])


RANKING = PerformanceRanking()
