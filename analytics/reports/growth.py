"""客户增长: new customers per period bucket by source, and how many of them became buyers.

- New customers: customers created (``created_at``, the calendar day in Asia/Shanghai) in the
  bucket, through ``Customer.objects.visible_to(user)`` — so never one in the recycle bin or in a
  public pool — narrowed by the department / owner filters on the customer's own owner and
  department.
- Converted (成交): of those customers, the ones with a sales contract (approved or later,
  ``Contract.objects.sales()``) that the viewer may see. "First contract" is counted **any time up
  to now**, not only within the bucket: a customer created in January who signs in March counts
  as converted in January's row — the question is "of the customers we won in January, how many
  bought", and its answer for an old bucket still grows as late buyers sign.
- Conversion rate = converted / new customers of the bucket.

One query: a GROUP BY (day, source) over the customers created in the period, with the
contract check as an EXISTS per customer; the days are added up into buckets here.
"""

from django.db.models import Count, DateField, Exists, OuterRef
from django.db.models.functions import Trunc
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import (
    INT,
    PERCENT,
    Column,
    Figure,
    Report,
    Result,
    Table,
    in_period,
    narrow,
    ratio,
)
from contracts.models import Contract
from customers.models import Customer

NO_SOURCE = _("未填写来源")


def new_customers(*, user, params):
    """The customers the viewer may see, narrowed by the report filters."""
    return narrow(Customer.objects.visible_to(user), params)


def customer_growth_days(*, user, params):
    """[{day, source_id, source_name, source_order, count, converted}] over the customers created
    in the period — one GROUP BY (local day, source). ``converted``: those with a sales contract
    the viewer sees, signed at any time up to now."""
    customers = in_period(new_customers(user=user, params=params), "created_at", params.period, is_datetime=True)
    bought = Exists(Contract.objects.visible_to(user).sales().filter(customer_id=OuterRef("pk")))
    rows = (
        customers.annotate(report_day=Trunc("created_at", "day", output_field=DateField()))
        .order_by()
        .values("report_day", "source_id", "source__name", "source__order")
        .annotate(count=Count("id"), converted=Count("id", filter=bought))
    )
    return [
        {
            "day": row["report_day"],
            "source_id": row["source_id"],
            "source_name": row["source__name"],
            "source_order": row["source__order"],
            "count": row["count"],
            "converted": row["converted"],
        }
        for row in rows
    ]


def _source_key(source_id):
    return f"source_{source_id}" if source_id is not None else "source_none"


class CustomerGrowth(Report):
    key = "customer_growth"
    title = _("客户增长")
    description = _("各周期新增客户数（按来源）及新增客户成交转化（至今已签约的客户占比）。")
    permission = "customers.view_customer"

    def run(self, *, user, params):
        days = customer_growth_days(user=user, params=params)
        buckets = params.period.buckets()

        # The sources that occur, in their configured order; customers without one last.
        sources = {}
        for row in days:
            sources.setdefault(
                row["source_id"],
                (row["source_order"] is None, row["source_order"] or 0, row["source_name"] or "", row["source_id"]),
            )
        ordered = sorted(sources, key=lambda pk: sources[pk])
        names = {pk: (sources[pk][2] if pk is not None else str(NO_SOURCE)) for pk in ordered}

        rows = []
        for bucket in buckets:
            row = {"period": bucket.label, "new": 0, "converted": 0}
            row.update({_source_key(pk): 0 for pk in ordered})
            for item in days:
                if bucket.start <= item["day"] <= bucket.end:
                    row["new"] += item["count"]
                    row["converted"] += item["converted"]
                    row[_source_key(item["source_id"])] += item["count"]
            row["rate"] = ratio(row["converted"], row["new"])
            rows.append(row)

        by_source = []
        for pk in ordered:
            count = sum(item["count"] for item in days if item["source_id"] == pk)
            converted = sum(item["converted"] for item in days if item["source_id"] == pk)
            by_source.append({"source": names[pk], "new": count, "converted": converted})
        total_new = sum(row["new"] for row in rows)
        total_converted = sum(row["converted"] for row in rows)
        for row in by_source:
            row["rate"] = ratio(row["converted"], row["new"])
            row["share"] = ratio(row["new"], total_new)
        by_source.sort(key=lambda row: -row["new"])

        columns = [
            Column("period", _("周期")),
            Column("new", _("新增客户"), INT),
            *[Column(_source_key(pk), names[pk], INT) for pk in ordered],
            Column("converted", _("已成交"), INT),
            Column("rate", _("成交转化率"), PERCENT),
        ]
        source_table = Table(
            [
                Column("source", _("来源")),
                Column("new", _("新增客户"), INT),
                Column("share", _("占比"), PERCENT),
                Column("converted", _("已成交"), INT),
                Column("rate", _("成交转化率"), PERCENT),
            ],
            by_source,
            title=_("按来源"),
        )
        summary = [
            Figure("new", _("新增客户"), total_new, INT),
            Figure("converted", _("已成交"), total_converted, INT),
            Figure("rate", _("成交转化率"), ratio(total_converted, total_new), PERCENT),
        ]
        labels = [row["period"] for row in rows]
        series = [
            {"name": names[pk], "type": "bar", "stack": "new", "data": [row[_source_key(pk)] for row in rows]}
            for pk in ordered
        ]
        series.append(
            {
                "name": str(_("成交转化率（%）")),
                "type": "line",
                "yAxisIndex": 1,
                "data": [float(row["rate"] * 100) if row["rate"] is not None else None for row in rows],
            }
        )
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0, "type": "scroll"},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": [{"type": "value", "minInterval": 1}, {"type": "value", "max": 100, "splitLine": {"show": False}}],
            "series": series,
        }
        return Result(table=Table(columns, rows), summary=summary, chart=chart, extra_tables=[source_table])


CUSTOMER_GROWTH = CustomerGrowth()
